import CTradeTapShims

/// The hook side of the journal: claim a slot, fill it, commit it.
///
/// A plain value of raw pointers and integers: copying it costs nothing and using
/// it involves no reference counting, no lock, no allocation and no system call
/// (except the one wake described in ``commit(_:kind:flags:mode:declaredSize:declaredSecondarySize:payloadLength:)``).
/// Safe to use from any number of threads at once while the ``Journal`` that made
/// it is open.
public struct JournalProducer: @unchecked Sendable {
  @usableFromInline let header: UnsafeMutableRawPointer
  @usableFromInline let slots: UnsafeMutableRawPointer
  @usableFromInline let slotCount: UInt64
  /// slotCount - 1 when slotCount is a power of two (index by mask), else 0 (modulo).
  @usableFromInline let indexMask: UInt64
  /// The consumer's wake-up eventfd (owned by the ``Journal``).
  @usableFromInline let wakeDescriptor: Int32

  init(header: UnsafeMutableRawPointer, slots: UnsafeMutableRawPointer, slotCount: UInt64, wakeDescriptor: Int32) {
    self.header = header
    self.slots = slots
    self.slotCount = slotCount
    self.wakeDescriptor = wakeDescriptor
    self.indexMask = slotCount & (slotCount - 1) == 0 ? slotCount - 1 : 0
  }

  @inlinable @inline(__always)
  func slot(for sequence: UInt64) -> UnsafeMutableRawPointer {
    let index = indexMask != 0 ? sequence & indexMask : sequence % slotCount
    return slots + Int(truncatingIfNeeded: index) &* JournalLayout.slotSize
  }

  /// Claims the next sequence number if a slot is free; nil when the journal is
  /// full (nothing is consumed then: sequence numbers stay gap-free).
  @inlinable @inline(__always)
  func claimSequence() -> UInt64? {
    let tailWord = header + JournalLayout.tailOffset
    let releasedWord = header + JournalLayout.releasedOffset
    var tail = tt_load_acquire_u64(tailWord)
    while true {
      let released = tt_load_acquire_u64(releasedWord)
      if tail &- released >= slotCount { return nil }
      if tt_cas_u64(tailWord, tail, tail &+ 1) != 0 { return tail }
      tail = tt_load_acquire_u64(tailWord)
    }
  }

  /// Claims a slot for one record. When the journal is full, counts the refused
  /// event (a gap record reports it once space returns) and returns nil.
  @inlinable @inline(__always)
  public func claim() -> JournalSlot? {
    if tt_load_relaxed_u64(header + JournalLayout.pendingOverflowOffset) != 0 {
      flushOverflow()
    }
    guard let sequence = claimSequence() else {
      countOverflow()
      return nil
    }
    return JournalSlot(base: slot(for: sequence), sequence: sequence)
  }

  @usableFromInline @inline(never)
  func countOverflow() {
    _ = tt_fetch_add_u64(header + JournalLayout.pendingOverflowOffset, 1)
    _ = tt_fetch_add_u64(header + JournalLayout.overflowTotalOffset, 1)
  }

  /// Writes one gap record for the events refused while full, if a slot is free.
  /// Called by the next claimant and by the consumer after it releases space.
  @usableFromInline @inline(never)
  func flushOverflow() {
    let pendingWord = header + JournalLayout.pendingOverflowOffset
    let refused = tt_exchange_u64(pendingWord, 0)
    if refused == 0 { return }
    guard let sequence = claimSequence() else {
      _ = tt_fetch_add_u64(pendingWord, refused)
      return
    }
    let slot = JournalSlot(base: slot(for: sequence), sequence: sequence)
    writeGap(slot, count: refused, flags: .gapOverflow)
  }

  func writeGap(_ slot: JournalSlot, count: UInt64, flags: JournalRecordFlags) {
    slot.payload.storeBytes(of: count, as: UInt64.self)
    commit(slot, kind: journalGapKind, flags: flags, mode: 0, declaredSize: 0,
           declaredSecondarySize: 0, payloadLength: 8)
  }

  /// Completes a claimed slot: writes its header, then publishes it with one
  /// sequentially consistent store of the commit word.
  ///
  /// Wake-up: if the consumer has parked (it does so only after a quiet window with
  /// no records, during which it polls in short slices without parking; parked, it
  /// polls the journal's eventfd together with its socket), the first hook to
  /// see the `parked` flag clears it and issues one eventfd `write` system call. While the consumer is awake this costs one load
  /// of a cache line the consumer rarely writes, and no system call.
  @inlinable @inline(__always)
  public func commit(
    _ slot: JournalSlot, kind: UInt16, flags: JournalRecordFlags, mode: Int32,
    declaredSize: UInt32, declaredSecondarySize: UInt32, payloadLength: UInt32
  ) {
    let base = slot.base
    (base + JournalLayout.sequenceOffset).storeBytes(of: slot.sequence, as: UInt64.self)
    (base + JournalLayout.hookTimeOffset).storeBytes(of: tt_cycle_counter(), as: UInt64.self)
    (base + JournalLayout.kindOffset).storeBytes(of: kind, as: UInt16.self)
    (base + JournalLayout.flagsOffset).storeBytes(of: flags.rawValue, as: UInt16.self)
    (base + JournalLayout.modeOffset).storeBytes(of: mode, as: Int32.self)
    (base + JournalLayout.declaredSizeOffset).storeBytes(of: declaredSize, as: UInt32.self)
    (base + JournalLayout.declaredSecondarySizeOffset).storeBytes(of: declaredSecondarySize, as: UInt32.self)
    (base + JournalLayout.payloadLengthOffset).storeBytes(of: payloadLength, as: UInt32.self)
    tt_store_seq_cst_u64(base + JournalLayout.commitOffset, slot.sequence &+ 1)
    if tt_load_seq_cst_u32(header + JournalLayout.parkedOffset) != 0 {
      wakeConsumer()
    }
  }

  @usableFromInline @inline(never)
  func wakeConsumer() {
    let parked = (header + JournalLayout.parkedOffset).assumingMemoryBound(to: UInt32.self)
    if tt_exchange_u32(parked, 0) != 0 {
      _ = tt_wake_signal(wakeDescriptor)
    }
  }

  /// Records claimed and not yet released: `tail - released`.
  public var occupiedSlots: UInt64 {
    tt_load_acquire_u64(header + JournalLayout.tailOffset)
      &- tt_load_acquire_u64(header + JournalLayout.releasedOffset)
  }
  /// The journal's capacity in records.
  public var capacity: UInt64 { slotCount }
}

/// A claimed slot: write the payload through ``payload``, then hand it to
/// ``JournalProducer/commit(_:kind:flags:mode:declaredSize:declaredSecondarySize:payloadLength:)``.
public struct JournalSlot: @unchecked Sendable {
  @usableFromInline let base: UnsafeMutableRawPointer
  /// The sequence number this record will carry.
  public let sequence: UInt64

  @inlinable init(base: UnsafeMutableRawPointer, sequence: UInt64) {
    self.base = base
    self.sequence = sequence
  }

  /// Where the payload goes: ``JournalLayout/maximumPayload`` bytes.
  @inlinable public var payload: UnsafeMutableRawPointer { base + JournalLayout.payloadOffset }
}
