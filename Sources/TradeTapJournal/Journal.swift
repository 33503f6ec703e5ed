import CTradeTapShims
import Glibc

/// What opening a journal found and repaired.
public struct JournalRecovery: Sendable, Equatable {
  /// Committed records after the released point, kept for delivery.
  public var pendingRecords: UInt64
  /// Sequence numbers claimed but never committed (the host died mid-hook); each
  /// now holds a gap record (``JournalRecordFlags/gapUncommitted``).
  public var uncommittedSequences: [UInt64]
  /// The first sequence number still to be delivered.
  public var resumeSequence: UInt64
  /// Set when the file at the path was damaged (or emptied): it was moved aside and
  /// this journal started fresh in its place (``JournalFreshness/freshAfterLoss``).
  public var replaced: JournalReplacement? = nil
}

/// Counters for `/metrics`, read without stopping the hooks.
public struct JournalStatistics: Sendable, Equatable {
  /// The next sequence number a hook will claim (= records ever journaled).
  public var nextSequence: UInt64
  /// The first sequence number not yet acknowledged.
  public var releasedSequence: UInt64
  /// Events refused because the journal was full (lifetime, persisted).
  public var overflowedTotal: UInt64
  /// Refused events not yet reported by a gap record.
  public var overflowPending: UInt64
  /// Claimed-never-committed slots found by recovery (lifetime, persisted).
  public var uncommittedTotal: UInt64
  /// Slots in the journal.
  public var capacity: UInt64
  /// Fill level in [0, 1]: unacknowledged records over capacity.
  public var fill: Double { capacity == 0 ? 0 : Double(nextSequence &- releasedSequence) / Double(capacity) }
}

/// What ended a ``Journal/waitForRecord(spinIterations:timeoutNanoseconds:orReadable:)``.
public struct JournalWait: Sendable, Equatable {
  /// The record at ``Journal/nextSequenceToRead`` is committed.
  public var recordReady: Bool
  /// Bit i set: `descriptors[i]` is readable (or has an error or hang-up to report).
  public var readableDescriptors: UInt32
}

/// The on-disk, memory-mapped, bounded, multi-producer journal.
///
/// Hooks append through ``producer`` (lock-free, from any thread). One consumer
/// (the sender thread) reads committed records in sequence order with
/// ``nextRecord()``, and frees space with ``release(through:)`` once the collector
/// acknowledged. The mapping is `MAP_SHARED` on a file: a record whose commit
/// store completed survives `kill -9` of the process (it is in the page cache);
/// it survives a power loss only once the kernel has written it back.
///
/// The consumer methods (everything but ``producer``, ``statistics`` and
/// ``wakeConsumer()``) must be called from one thread at a time.
public final class Journal: @unchecked Sendable {
  /// The journal file (`<Journal.Path>/journal.ttj`).
  public let path: String
  /// The hook side. A plain value: hand copies of it to the hooks.
  public let producer: JournalProducer
  /// What open found and repaired.
  public let recovery: JournalRecovery

  private var file: JournalFile?
  /// Keeps the slots ahead of the tail writable (its own thread; see JournalPrefault.swift).
  private let prefault: JournalPrefault
  private var readPosition: UInt64
  private var clock = HookClock()
  /// The released point as it was at ``close()``: the header is unmapped after it.
  private var releasedAtClose: UInt64 = 0
  /// The adaptive wait's memory: the read position at the previous wait and when
  /// it last moved (monotonic ns), and the thread whose timer slack is already low.
  private var readPositionAtLastWait: UInt64
  private var lastRecordSeenAt: UInt64 = 0
  private var preciseSleepThread: pthread_t = 0

  private init(file: JournalFile, wakeDescriptor: Int32, recovery: JournalRecovery) {
    self.file = file
    self.path = file.path
    self.producer = JournalProducer(
      header: file.header, slots: file.slots, slotCount: file.slotCount, wakeDescriptor: wakeDescriptor)
    self.recovery = recovery
    self.prefault = JournalPrefault(header: file.header, slots: file.slots, slotCount: file.slotCount)
    self.readPosition = recovery.resumeSequence
    self.readPositionAtLastWait = recovery.resumeSequence
    let origin = clock.origin
    tt_store_release_u64(file.header + JournalLayout.clockCyclesOffset, origin.cycles)
    tt_store_release_u64(file.header + JournalLayout.clockNanosecondsOffset, origin.nanoseconds)
  }

  deinit { close() }

  /// Opens (or creates) the journal in `directory`, bounded by `sizeMB` megabytes
  /// of slots, and recovers it: committed records after the released point are
  /// kept; slots claimed but never committed become gap records; overflow counted
  /// before a crash is reported by a gap record as soon as there is space.
  ///
  /// Takes an exclusive `flock` on the file: one process journals at a time.
  /// - Throws: ``JournalError``.
  public static func open(directory: String, sizeMB: Int) throws(JournalError) -> Journal {
    let file = try JournalFile.open(directory: directory, sizeMB: sizeMB)
    let wake = tt_wake_create()
    guard wake >= 0 else {
      let code = errno
      file.close()
      throw .system(call: "eventfd", path: file.path, errno: code)
    }
    let producer = JournalProducer(
      header: file.header, slots: file.slots, slotCount: file.slotCount, wakeDescriptor: wake)
    let released = tt_load_acquire_u64(file.header + JournalLayout.releasedOffset)
    let tail = tt_load_acquire_u64(file.header + JournalLayout.tailOffset)
    var uncommitted: [UInt64] = []
    var sequence = released
    while sequence < tail {
      let slot = producer.slot(for: sequence)
      if tt_load_acquire_u64(slot + JournalLayout.commitOffset) != sequence &+ 1 {
        uncommitted.append(sequence)
        producer.writeGap(JournalSlot(base: slot, sequence: sequence), count: 1, flags: .gapUncommitted)
      }
      sequence += 1
    }
    if !uncommitted.isEmpty {
      _ = tt_fetch_add_u64(file.header + JournalLayout.uncommittedTotalOffset, UInt64(uncommitted.count))
    }
    // No consumer is parked in a journal just opened.
    tt_store_release_u32(file.header + JournalLayout.parkedOffset, 0)
    producer.flushOverflow()
    let recovery = JournalRecovery(
      pendingRecords: tail - released, uncommittedSequences: uncommitted, resumeSequence: released,
      replaced: file.replaced)
    let journal = Journal(file: file, wakeDescriptor: wake, recovery: recovery)
    // The first window now (bounded: 32 MB, ~25 ms fresh), the rest from the thread.
    journal.prefault.prepare(full: true)
    journal.prefault.start()
    return journal
  }

  /// Makes the window of slots ahead of the tail writable now, without changing a
  /// byte (the journal's own thread does this every 1-10 ms). Safe from any
  /// thread while open, racing the hooks; never call it from a hook.
  public func prefaultAhead() {
    guard file != nil else { return }
    prefault.prepareWindow()
  }

  /// Unmaps and unlocks the file. The hooks must have stopped using ``producer``.
  /// Safe to call more than once.
  public func close() {
    guard let open = file else { return }
    prefault.stop()  // before the unmap
    releasedAtClose = tt_load_acquire_u64(producer.header + JournalLayout.releasedOffset)
    open.close()
    Glibc.close(producer.wakeDescriptor)
    file = nil
  }

  // MARK: Sequence space

  /// Whether the numbering still has to be agreed with a collector (a journal laid
  /// out anew). ``JournalFreshness/settled`` once closed.
  public var freshness: JournalFreshness {
    guard file != nil else { return .settled }
    let raw = tt_load_acquire_u32(producer.header + JournalLayout.freshnessOffset)
    return JournalFreshness(rawValue: raw) ?? .settled
  }

  /// Wire sequence = journal sequence + 1 + `wireOffset` (persisted in the header).
  public var wireOffset: UInt64 {
    guard file != nil else { return 0 }
    return tt_load_acquire_u64(producer.header + JournalLayout.wireOffsetOffset)
  }

  /// Settles a fresh journal's numbering: stores `wireOffset`, then marks the journal
  /// settled (in that order, both in the mapped header, so a crash in between leaves
  /// it fresh and the next welcome settles it again; nothing is sent before this).
  /// Consumer thread only; ignored once settled.
  public func settle(wireOffset offset: UInt64) {
    guard file != nil, freshness != .settled else { return }
    tt_store_release_u64(producer.header + JournalLayout.wireOffsetOffset, offset)
    tt_store_release_u32(producer.header + JournalLayout.freshnessOffset, JournalFreshness.settled.rawValue)
  }

  // MARK: Consumer

  /// The sequence number ``nextRecord()`` returns next.
  public var nextSequenceToRead: UInt64 { readPosition }

  /// The first sequence number not yet released (everything below is acknowledged).
  /// After ``close()``: the value it had when the journal was closed.
  public var releasedSequence: UInt64 {
    guard file != nil else { return releasedAtClose }
    return tt_load_acquire_u64(producer.header + JournalLayout.releasedOffset)
  }

  /// True when the record at ``nextSequenceToRead`` is committed.
  public var hasRecordToRead: Bool { file != nil && isCommitted(readPosition) }

  private func isCommitted(_ sequence: UInt64) -> Bool {
    let slot = producer.slot(for: sequence)
    return tt_load_acquire_u64(slot + JournalLayout.commitOffset) == sequence &+ 1
  }

  /// The next committed record in sequence order, or nil when the next sequence
  /// number is not committed yet. The view stays valid until it is released.
  public func nextRecord() -> JournalRecord? {
    guard let record = record(at: readPosition) else { return nil }
    readPosition += 1
    return record
  }

  /// The committed record with `sequence`, if it is still in the journal
  /// (not released) and committed.
  public func record(at sequence: UInt64) -> JournalRecord? {
    guard file != nil else { return nil }
    let tail = tt_load_acquire_u64(producer.header + JournalLayout.tailOffset)
    guard sequence >= releasedSequence, sequence < tail, isCommitted(sequence) else { return nil }
    let slot = UnsafeRawPointer(producer.slot(for: sequence))
    clock.refreshIfDue()
    let cycles = slot.load(fromByteOffset: JournalLayout.hookTimeOffset, as: UInt64.self)
    let length = min(Int(slot.load(fromByteOffset: JournalLayout.payloadLengthOffset, as: UInt32.self)),
                     JournalLayout.maximumPayload)
    return JournalRecord(
      sequence: sequence,
      kind: slot.load(fromByteOffset: JournalLayout.kindOffset, as: UInt16.self),
      flags: JournalRecordFlags(rawValue: slot.load(fromByteOffset: JournalLayout.flagsOffset, as: UInt16.self)),
      mode: slot.load(fromByteOffset: JournalLayout.modeOffset, as: Int32.self),
      hookMonotonicNanoseconds: clock.nanoseconds(atCycles: cycles),
      hookCycles: cycles,
      declaredSize: slot.load(fromByteOffset: JournalLayout.declaredSizeOffset, as: UInt32.self),
      declaredSecondarySize: slot.load(fromByteOffset: JournalLayout.declaredSecondarySizeOffset, as: UInt32.self),
      payload: UnsafeRawBufferPointer(start: slot + JournalLayout.payloadOffset, count: length))
  }

  /// Frees every record up to and including `sequence` (the collector's cumulative
  /// acknowledgement). Clamped to what has been read; never moves backwards. The
  /// new position persists in the file. Reports refused events as a gap record if
  /// space now allows.
  public func release(through sequence: UInt64) {
    guard file != nil else { return }
    let target = min(sequence &+ 1, readPosition)
    let word = producer.header + JournalLayout.releasedOffset
    if target > tt_load_acquire_u64(word) {
      tt_store_release_u64(word, target)
    }
    if tt_load_relaxed_u64(producer.header + JournalLayout.pendingOverflowOffset) != 0 {
      producer.flushOverflow()
    }
  }

  /// Moves the read position (e.g. to resend from the collector's durable point
  /// after a reconnect). Backwards it stops at the released point; forwards it
  /// stops at the first record not committed. Returns the new read position.
  @discardableResult
  public func seek(to sequence: UInt64) -> UInt64 {
    guard file != nil else { return readPosition }
    if sequence <= readPosition {
      readPosition = max(sequence, releasedSequence)
    } else {
      while readPosition < sequence && isCommitted(readPosition) { readPosition += 1 }
    }
    return readPosition
  }

  /// Waits until the record at ``nextSequenceToRead`` is committed, or until
  /// `timeoutNanoseconds` passed, or ``wakeConsumer()`` was called.
  /// - Returns: true when a record is ready.
  public func waitForRecord(spinIterations: Int = 2000, timeoutNanoseconds: Int64) -> Bool {
    waitForRecord(spinIterations: spinIterations, timeoutNanoseconds: timeoutNanoseconds, orReadable: []).recordReady
  }

  /// Waits until the record at ``nextSequenceToRead`` is committed, one of
  /// `descriptors` is readable (e.g. the collector's socket), `timeoutNanoseconds`
  /// passed, or ``wakeConsumer()`` was called (it may also return with nothing ready,
  /// e.g. after a late wake signal: callers loop).
  ///
  /// Three phases, so that hooks of a steady stream never make a system call:
  /// 1. spin `spinIterations` pauses re-checking the next commit;
  /// 2. *warm*, while this consumer read a record less than `warmWindowNanoseconds`
  ///    ago: `ppoll` the journal's eventfd and `descriptors` for `warmPollNanoseconds`
  ///    at a time WITHOUT setting `parked`, re-checking the commit after each poll (the
  ///    thread's timer slack is lowered once so such sleeps are honoured); hooks see
  ///    `parked == 0`: commit and return, no system call;
  /// 3. *parked*, once the warm window has passed: set `parked`, re-check, `ppoll`
  ///    for the rest of the timeout; the first hook that commits sees the flag and
  ///    signals the eventfd once.
  /// With `warmWindowNanoseconds == 0` (the default) phase 2 is skipped.
  ///
  /// No lost wake-up: a record is lost to a sleep only if the consumer sleeps past its
  /// commit with nothing to end the sleep.
  /// - Phase 2: every sleep ends by itself after at most `warmPollNanoseconds` and the
  ///   commit word is then re-read, so a commit made meanwhile is seen within one poll
  ///   interval without any signal.
  /// - Phase 3 is Dekker's protocol on two words, under the single total order S of
  ///   sequentially consistent operations. Hook: `store(commit) seq_cst;
  ///   load(parked) seq_cst`. Consumer: `exchange(parked, 1) seq_cst; fence seq_cst;
  ///   load(commit)`. If the consumer's load misses the commit, that load (hence its
  ///   exchange) precedes the hook's commit store in S, so the hook's load, later in S,
  ///   reads 1, or 0 stored by another hook whose `exchange(parked, 0)` returned 1.
  ///   Exactly that one hook writes the eventfd, which stays readable until drained:
  ///   a write before the consumer's `ppoll` starts still ends it. If the load sees
  ///   the commit, the consumer returns without sleeping.
  /// - Phase 2 → 3 goes through the same exchange, fence and re-check, so a commit
  ///   made during the last warm poll is found there; 3 → return clears `parked`.
  /// - A late signal (a hook that saw `parked == 1` just before the consumer cleared
  ///   it) leaves the eventfd readable: the next poll of either phase returns at once
  ///   and drains it (one spurious return, never a lost record).
  /// - ``wakeConsumer()`` signals the eventfd unconditionally: it ends the current
  ///   poll of either phase, or the next one.
  public func waitForRecord(
    spinIterations: Int = 2000, timeoutNanoseconds: Int64, orReadable descriptors: [Int32],
    warmWindowNanoseconds: Int64 = 0, warmPollNanoseconds: Int64 = 50_000
  ) -> JournalWait {
    guard file != nil else { return JournalWait(recordReady: false, readableDescriptors: 0) }
    for _ in 0..<spinIterations {
      if hasRecordToRead { return JournalWait(recordReady: true, readableDescriptors: 0) }
      tt_cpu_relax()
    }
    var timeout = max(0, timeoutNanoseconds)
    if warmWindowNanoseconds > 0 {
      var now = tt_monotonic_ns()
      if readPosition != readPositionAtLastWait {
        readPositionAtLastWait = readPosition
        lastRecordSeenAt = now
      }
      let deadline = now &+ UInt64(timeout)
      if now &- lastRecordSeenAt < UInt64(warmWindowNanoseconds) { lowerTimerSlack() }
      // Polled here rather than by returning to the caller after each poll: a poll
      // is then one system call, not a turn of the caller's loop.
      while now &- lastRecordSeenAt < UInt64(warmWindowNanoseconds) {
        guard now < deadline else { return JournalWait(recordReady: false, readableDescriptors: 0) }
        let sleep = min(Int64(deadline &- now), warmPollNanoseconds)
        let (readable, signalled) = poll(descriptors, timeoutNanoseconds: sleep)
        if hasRecordToRead || readable != 0 || signalled {
          return JournalWait(recordReady: hasRecordToRead, readableDescriptors: readable)
        }
        now = tt_monotonic_ns()
      }
      timeout = now < deadline ? Int64(deadline &- now) : 0
    }
    let parked = (producer.header + JournalLayout.parkedOffset).assumingMemoryBound(to: UInt32.self)
    _ = tt_exchange_u32(parked, 1)
    tt_fence_seq_cst()  // pairs with the hook's seq_cst commit store and parked load (Dekker)
    if hasRecordToRead {
      tt_store_release_u32(parked, 0)
      return JournalWait(recordReady: true, readableDescriptors: 0)
    }
    let (readable, _) = poll(descriptors, timeoutNanoseconds: timeout) {
      tt_store_release_u32(parked, 0)
    }
    return JournalWait(recordReady: hasRecordToRead, readableDescriptors: readable)
  }

  /// Waits like ``waitForRecord(spinIterations:timeoutNanoseconds:orReadable:warmWindowNanoseconds:warmPollNanoseconds:)``
  /// but never sleeps and never sets `parked` (so hooks never make a system call):
  /// re-checks the next commit after every pause (`yielding` false: busy-spin) or
  /// `sched_yield` (true), and polls the eventfd and `descriptors` with a zero timeout
  /// every `pollEvery` turns, which is how a stop, an ack or the deadline ends it.
  public func spinForRecord(
    timeoutNanoseconds: Int64, orReadable descriptors: [Int32], yielding: Bool, pollEvery: Int = 256
  ) -> JournalWait {
    guard file != nil else { return JournalWait(recordReady: false, readableDescriptors: 0) }
    let deadline = tt_monotonic_ns() &+ UInt64(max(0, timeoutNanoseconds))
    var turn = 0
    while true {
      if hasRecordToRead { return JournalWait(recordReady: true, readableDescriptors: 0) }
      if yielding { sched_yield() } else { tt_cpu_relax() }
      turn &+= 1
      guard turn % max(1, pollEvery) == 0 else { continue }
      let (readable, signalled) = poll(descriptors, timeoutNanoseconds: 0)
      if hasRecordToRead || readable != 0 || signalled || tt_monotonic_ns() >= deadline {
        return JournalWait(recordReady: hasRecordToRead, readableDescriptors: readable)
      }
    }
  }

  /// One `ppoll` of the wake eventfd and `descriptors`; `afterPoll` runs as soon as
  /// it returns. Drains the eventfd if it was signalled.
  /// - Returns: the readable mask of `descriptors`, and whether the eventfd was signalled.
  private func poll(
    _ descriptors: [Int32], timeoutNanoseconds: Int64, afterPoll: () -> Void = {}
  ) -> (readable: UInt32, signalled: Bool) {
    let wake = producer.wakeDescriptor
    return withUnsafeTemporaryAllocation(of: pollfd.self, capacity: descriptors.count + 1) { fds in
      fds[0] = pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
      for (index, fd) in descriptors.enumerated() { fds[index + 1] = pollfd(fd: fd, events: Int16(POLLIN), revents: 0) }
      // EINTR or a timeout: the caller loops anyway.
      let count = tt_poll_nanoseconds(fds.baseAddress, UInt(fds.count), timeoutNanoseconds)
      afterPoll()
      guard count > 0 else { return (0, false) }
      // A hook that saw `parked` just before it was cleared may signal late: the
      // next wait then returns at once and drains it (level-triggered, never lost).
      let signalled = fds[0].revents != 0
      if signalled { _ = tt_wake_drain(wake) }
      var mask: UInt32 = 0
      for index in descriptors.indices where fds[index + 1].revents != 0 && index < 32 { mask |= 1 << UInt32(index) }
      return (mask, signalled)
    }
  }

  /// Warm polls are a few tens of µs: the default 50 µs timer slack would double
  /// them. Once per consumer thread (the slack is a per-thread setting).
  private func lowerTimerSlack() {
    let thread = pthread_self()
    guard pthread_equal(thread, preciseSleepThread) == 0 else { return }
    preciseSleepThread = thread
    _ = tt_set_timer_slack(Self.warmTimerSlackNanoseconds)
  }

  /// Timer slack of a thread that has made a warm poll.
  static let warmTimerSlackNanoseconds: UInt64 = 1_000

  /// Ends the consumer's current or next wait in ``waitForRecord(spinIterations:timeoutNanoseconds:)``
  /// (to stop it or make it re-read its parameters), parked or warm. Any thread.
  /// Signals the eventfd whether or not the consumer has parked (not on the hook
  /// path: a stop or a reconfiguration): the signal stays until a poll drains it, so
  /// one made while the consumer is between polls is not lost either.
  public func wakeConsumer() {
    guard file != nil else { return }
    tt_store_release_u32(producer.header + JournalLayout.parkedOffset, 0)
    _ = tt_wake_signal(producer.wakeDescriptor)
  }

  /// Counters for `/metrics` (all zero once closed). Any thread.
  public var statistics: JournalStatistics {
    guard file != nil else {
      return JournalStatistics(nextSequence: 0, releasedSequence: 0, overflowedTotal: 0, overflowPending: 0,
                               uncommittedTotal: 0, capacity: 0)
    }
    let header = producer.header
    return JournalStatistics(
      nextSequence: tt_load_acquire_u64(header + JournalLayout.tailOffset),
      releasedSequence: tt_load_acquire_u64(header + JournalLayout.releasedOffset),
      overflowedTotal: tt_load_relaxed_u64(header + JournalLayout.overflowTotalOffset),
      overflowPending: tt_load_relaxed_u64(header + JournalLayout.pendingOverflowOffset),
      uncommittedTotal: tt_load_relaxed_u64(header + JournalLayout.uncommittedTotalOffset),
      capacity: producer.slotCount)
  }
}
