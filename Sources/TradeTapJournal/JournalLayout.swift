// The journal file's byte layout. One file, `journal.ttj`, in the journal folder:
//
//   0                4096                4096 + 512         4096 + 512 * slotCount
//   +----------------+-------------------+------------------+
//   | header page    | slot 0            | slot 1 ...       |
//   +----------------+-------------------+------------------+
//
// Header page (each hot word on its own cache line so producers and the consumer
// do not false-share):
//
//   0    magic "TTJRNL01"    8  version u32, slotSize u32    16 slotCount u64
//   64   tail u64            next sequence number to claim (producers CAS it)
//   128  released u64        every sequence below it is acknowledged: its slot is free
//   136  pendingOverflow u64 events refused while full, not yet reported by a gap record
//   144  overflowTotal u64   lifetime count of refused events
//   152  uncommittedTotal u64 lifetime count of claimed-never-committed slots found at open
//   160  wireOffset u64      wire sequence = journal sequence + 1 + wireOffset (0 unless the
//                            journal was started fresh while the collector already held events)
//   168  freshness u32       0 settled, 1 new (numbering not yet agreed with a collector),
//                            2 new in place of a damaged or emptied journal (events were lost)
//   192  parked u32          1 while the consumer sleeps on the futex (the wake-up flag)
//   256  clockCycles u64, clockNanoseconds u64: a (cycle counter, CLOCK_MONOTONIC) pair
//        taken at open, for reading the hooks' timestamps (diagnostics)
//
// Slot (512 bytes; a slot holds the record whose sequence number s has s % slotCount
// as index):
//
//   0  commit u64     sequence + 1, stored last (seq_cst): the record is complete
//   8  sequence u64   16 hookCycles u64 (the CPU cycle counter at the hook: tt_cycle_counter)
//   24 kind u16  26 flags u16  28 mode i32
//   32 declaredSize u32  36 declaredSecondarySize u32 (struct_size fields as the host set them)
//   40 payloadLength u32  44 reserved u32
//   48 payload: the C record bytes (zero-filled past the declared size), for MT4 trades
//      the ts_trade_record bytes followed by the ts_user_info bytes

/// Byte offsets and sizes of the journal file (see the diagram in JournalLayout.swift).
public enum JournalLayout {
  /// "TTJRNL01" read as a little-endian UInt64.
  static let magic: UInt64 = 0x3130_4C4E_524A_5454
  static let version: UInt32 = 1
  /// Size of the header page that precedes the slots.
  @inlinable public static var headerSize: Int { 4096 }
  /// Size of one slot, header included.
  @inlinable public static var slotSize: Int { 512 }
  /// Size of the per-slot header that precedes the payload.
  @inlinable public static var slotHeaderSize: Int { 48 }
  /// The largest payload a slot holds (464 bytes: a `ts_user` is 432).
  @inlinable public static var maximumPayload: Int { slotSize - slotHeaderSize }

  // Header page offsets.
  @inlinable static var magicOffset: Int { 0 }
  @inlinable static var versionOffset: Int { 8 }
  @inlinable static var slotSizeOffset: Int { 12 }
  @inlinable static var slotCountOffset: Int { 16 }
  @inlinable static var tailOffset: Int { 64 }
  @inlinable static var releasedOffset: Int { 128 }
  @inlinable static var pendingOverflowOffset: Int { 136 }
  @inlinable static var overflowTotalOffset: Int { 144 }
  @inlinable static var uncommittedTotalOffset: Int { 152 }
  @inlinable static var wireOffsetOffset: Int { 160 }
  @inlinable static var freshnessOffset: Int { 168 }
  @inlinable static var parkedOffset: Int { 192 }
  @inlinable static var clockCyclesOffset: Int { 256 }
  @inlinable static var clockNanosecondsOffset: Int { 264 }

  // Slot offsets.
  @inlinable static var commitOffset: Int { 0 }
  @inlinable static var sequenceOffset: Int { 8 }
  @inlinable static var hookTimeOffset: Int { 16 }
  @inlinable static var kindOffset: Int { 24 }
  @inlinable static var flagsOffset: Int { 26 }
  @inlinable static var modeOffset: Int { 28 }
  @inlinable static var declaredSizeOffset: Int { 32 }
  @inlinable static var declaredSecondarySizeOffset: Int { 36 }
  @inlinable static var payloadLengthOffset: Int { 40 }
  @inlinable static var payloadOffset: Int { 48 }

  /// Slots in a journal bounded by `sizeMB` megabytes (the header page is extra).
  public static func slotCount(sizeMB: Int) -> UInt64 {
    UInt64(sizeMB) * 1_048_576 / UInt64(slotSize)
  }
}
