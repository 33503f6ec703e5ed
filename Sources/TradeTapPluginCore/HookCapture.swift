import CTradeTapShims
import TradeTapJournal

/// The hook path: copy one host record into a claimed journal slot and commit it.
///
/// Per call: one flag-word load (the `Events` filter), the journal's claim (two
/// loads and a CAS), a fixed-size copy of the record, the slot header, the commit
/// store and one load of the consumer's parked flag. No lock, no allocation, no
/// reference counting, and no system call except the futex wake after the sender
/// idled (see `JournalProducer.commit`).
enum HookCapture {
  /// `struct_size` values above this are hostile, not a newer host's appended fields.
  @inlinable static var implausibleSize: UInt32 { 65_536 }

  @inline(__always)
  static func capture(
    _ context: UnsafeMutableRawPointer?, kind: UInt16, family: EventSelection,
    record: UnsafeRawPointer?, size: Int
  ) {
    guard let context else { return }
    let hook = context.assumingMemoryBound(to: HookContext.self)
    let words = hook.pointee.words
    if tt_load_acquire_u32(words + HookWord.eventSelection) & family.rawValue == 0 { return }
    let producer = hook.pointee.producer
    guard let slot = producer.claim() else { return }
    var flags: JournalRecordFlags = []
    let declared = copyRecord(record, size: size, into: slot.payload, flags: &flags, short: .shortRecord,
                              implausible: .implausibleSize, null: .nullRecord)
    if !flags.isEmpty && flags.needsQuarantine { countQuarantined(words) }
    producer.commit(
      slot, kind: kind, flags: flags, mode: 0, declaredSize: declared, declaredSecondarySize: 0,
      payloadLength: record == nil ? 0 : UInt32(size))
  }

  /// MT4 trade hooks: the trade record, then the user info (omitted when NULL).
  @inline(__always)
  static func captureTrade(
    _ context: UnsafeMutableRawPointer?, kind: UInt16, trade: UnsafeRawPointer?, user: UnsafeRawPointer?,
    mode: Int32
  ) {
    guard let context else { return }
    let hook = context.assumingMemoryBound(to: HookContext.self)
    let words = hook.pointee.words
    if tt_load_acquire_u32(words + HookWord.eventSelection) & EventSelection.trades.rawValue == 0 { return }
    let producer = hook.pointee.producer
    guard let slot = producer.claim() else { return }
    let tradeSize = 160, userSize = 176  // ts_trade_record, ts_user_info (checked in HookLayoutCheck)
    var flags: JournalRecordFlags = []
    let declared = copyRecord(trade, size: tradeSize, into: slot.payload, flags: &flags, short: .shortRecord,
                              implausible: .implausibleSize, null: .nullRecord)
    let declaredUser = copyRecord(user, size: userSize, into: slot.payload + tradeSize, flags: &flags,
                                  short: .secondaryShort, implausible: .secondaryImplausibleSize, null: .secondaryNull)
    if trade == nil { zeroFill(slot.payload, count: tradeSize) }
    if !flags.isEmpty && flags.needsQuarantine { countQuarantined(words) }
    // The user info always starts at tradeSize, so a NULL trade keeps a zeroed area.
    let length = tradeSize + (user == nil ? 0 : userSize)
    producer.commit(
      slot, kind: kind, flags: flags, mode: mode, declaredSize: declared, declaredSecondarySize: declaredUser,
      payloadLength: UInt32(length))
  }

  /// `on_execution_ack`: no host record, so the two arguments are the payload
  /// (u32 server_id, 4 zero bytes, u64 execution_id) and nothing can be hostile.
  @inline(__always)
  static func captureExecutionAck(_ context: UnsafeMutableRawPointer?, kind: UInt16, serverId: UInt32, executionId: UInt64) {
    guard let context else { return }
    let hook = context.assumingMemoryBound(to: HookContext.self)
    let words = hook.pointee.words
    if tt_load_acquire_u32(words + HookWord.eventSelection) & EventSelection.executions.rawValue == 0 { return }
    let producer = hook.pointee.producer
    guard let slot = producer.claim() else { return }
    slot.payload.storeBytes(of: UInt64(serverId), as: UInt64.self)  // little-endian: server_id, then 4 zero bytes
    (slot.payload + 8).storeBytes(of: executionId, as: UInt64.self)
    let size: UInt32 = 16  // RecordLayout.executionAckSize
    producer.commit(slot, kind: kind, flags: [], mode: 0, declaredSize: size, declaredSecondarySize: 0, payloadLength: size)
  }

  /// Copies `min(struct_size, size)` bytes and zero-fills the rest; the common case
  /// (struct_size == size) is a fixed-size copy the compiler inlines.
  /// - Returns: the declared `struct_size` (0 for NULL).
  @inline(__always)
  static func copyRecord(
    _ record: UnsafeRawPointer?, size: Int, into destination: UnsafeMutableRawPointer,
    flags: inout JournalRecordFlags, short: JournalRecordFlags, implausible: JournalRecordFlags,
    null: JournalRecordFlags
  ) -> UInt32 {
    guard let record else {
      flags.insert(null)
      return 0
    }
    let declared = record.loadUnaligned(as: UInt32.self)
    if declared == UInt32(truncatingIfNeeded: size) {
      tt_copy(destination, record, UInt64(truncatingIfNeeded: size))
    } else {
      copyUnusualSize(record, declared: declared, size: size, into: destination)
      if declared < UInt32(truncatingIfNeeded: size) {
        flags.insert(short)
      } else if declared > implausibleSize {
        flags.insert(implausible)
      } else {
        flags.insert(.extendedRecord)
      }
    }
    return declared
  }

  /// Short records: copy what the host declared (at least the size field itself),
  /// zero the rest. Longer records: copy the part this version knows.
  @inline(never)
  static func copyUnusualSize(_ record: UnsafeRawPointer, declared: UInt32, size: Int, into destination: UnsafeMutableRawPointer) {
    let copied = max(4, min(Int(declared), size))
    tt_copy(destination, record, UInt64(copied))
    if copied < size {
      (destination + copied).initializeMemory(as: UInt8.self, repeating: 0, count: size - copied)
    }
  }

  @inline(never)
  static func zeroFill(_ destination: UnsafeMutableRawPointer, count: Int) {
    destination.initializeMemory(as: UInt8.self, repeating: 0, count: count)
  }

  @inline(never)
  static func countQuarantined(_ words: UnsafeMutableRawPointer) {
    _ = tt_fetch_add_u64(words + HookWord.quarantinedAtHook, 1)
  }
}
