import TradeTapEvents
import TradeTapJournal
import TradeTapWire

/// One connection's life after TCP/TLS: handshake, resume, then streaming batches,
/// acks and heartbeats until an error, a silent peer, a reconfiguration or stop.
///
/// Waiting: one `ppoll` on the journal's wake eventfd, the socket and the stop
/// signal is the only sleep, until the next heartbeat or snapshot chunk is due. A
/// hook's commit (which signals the eventfd when the thread is parked) and any frame
/// from the collector (an ack above all) wake it at once. How it waits before that
/// sleep is ``idle`` (`Sender.Idle`): by default, for ``warmWindowNanoseconds`` after
/// the last record, polls of 50 µs without parking, so a steady stream's hooks make no
/// system call.
struct CollectorSession {
  /// Bound on hello → welcome.
  static let handshakeTimeoutMilliseconds: Int64 = 10_000
  /// With this many batches unacknowledged the collector is behind: new events wait
  /// for its next ack (at most ``holdNanoseconds``, or until ``holdUntilEvents`` are
  /// ready) and leave as one larger batch. Below it (an idle or keeping-up collector)
  /// every event leaves at once: latency first.
  static let batchesAheadBeforeHolding = 4
  static let holdNanoseconds: UInt64 = 1_000_000
  static let holdUntilEvents: UInt64 = 256
  /// With `Sender.Idle = backoff` (the default), once the journal is drained the sender
  /// polls it every 50 µs (`backoff:<µs>`) without parking, for ``warmWindowNanoseconds``
  /// after the last record, so hooks of a steady stream never make the wake-up system
  /// call (docs/sender.md, "Idle strategies"); then it parks, and the first hook after
  /// the quiet period wakes it.
  static let warmWindowNanoseconds: Int64 = 20_000_000
  /// No sequence a plugin uses comes near this (2^62: 146,000 years at a million
  /// events a second), so arithmetic on a claim below it cannot wrap; a welcome or
  /// ack above it is a lie.
  static let maximumSequence: UInt64 = 1 << 62
  /// The collector's heartbeat interval is honoured within these bounds: a hostile
  /// 1 ms would make this thread send a frame every millisecond inside the host.
  static let heartbeatBoundsMilliseconds: ClosedRange<Int64> = 100...86_400_000

  let stream: CollectorStream
  let journal: Journal
  let log: HostLog
  let serverId: UInt32
  /// Sent in the hello so the collector fills its `servers` row.
  let identity: ServerIdentity?
  let stop: StopSignal
  private var decoder = FrameDecoder()
  private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
  private let encoder = FrameEncoder()
  /// Collector's heartbeat interval when it names one, else `Heartbeat.Seconds`.
  private(set) var heartbeatMilliseconds: Int64
  private var lastSent = Deadline.now()
  private var lastReceived = Deadline.now()
  /// Highest wire sequence the collector holds: its welcome's word, then acks of what this session sent.
  private(set) var acknowledged: UInt64 = 0
  /// Highest wire sequence sent in this session (0: none yet). Nothing above it is
  /// ever released, whatever the collector says (docs/sender.md, "What an ack may release").
  private var highestSent: UInt64 = 0
  /// Next wire sequence to send.
  private var nextToSend: UInt64 = 1
  /// Wire sequence = journal sequence + 1 + this (the journal's, settled at the first welcome).
  private var wireOffset: UInt64 = 0
  /// The reserved wire sequence of a fresh journal's replacement gap, until it is sent.
  private var replacementGapDue: UInt64?
  /// An event read from the journal that did not fit the previous batch.
  private var carried: Event?
  /// Next wire sequence after each batch sent and not yet acknowledged, oldest first.
  private var unacknowledgedBatchEnds: [UInt64] = []
  /// When the current hold for the collector's ack began (0: not holding).
  private var holdingSince: UInt64 = 0
  /// Reconciliation snapshots being answered (docs/reconciliation.md).
  var snapshots = SnapshotResponder()
  /// How the thread waits once the journal is drained (`Sender.Idle`).
  var idle = SenderIdle.default
  /// Where the collector's commands run (docs/commands.md); nil: no thread could be had.
  var commands: CommandRunner?
  /// `Commands=off`: every command is refused, nothing reaches the host.
  var commandsEnabled = true
  /// `TRADETAP_STAGE_TRACE`: per-batch stage stamps (a diagnostic; nil: off).
  private let trace = StageTrace.fromEnvironment()

  init(stream: CollectorStream, journal: Journal, log: HostLog, serverId: UInt32, identity: ServerIdentity? = nil,
       heartbeatSeconds: Int, stop: StopSignal) {
    self.stream = stream
    self.journal = journal
    self.log = log
    self.serverId = serverId
    self.identity = identity
    self.heartbeatMilliseconds = Int64(min(max(1, heartbeatSeconds), 86_400)) * 1000
    self.stop = stop
  }

  // MARK: Handshake and resume

  /// Authenticates both ways and moves the journal's read position to the
  /// collector's durable point. - Returns: the welcome.
  mutating func handshake(secret: [UInt8]) throws(SenderError) -> Welcome {
    guard let nonce = KernelRandom.bytes(count: WireLimits.nonceLength) else {
      throw .protocolViolation("getrandom gave no nonce")
    }
    var machine: ClientHandshake
    do {
      machine = try ClientHandshake(serverId: serverId, secret: secret, clientNonce: nonce, software: "TradeTapPlugin",
                                       server: identity)
    } catch { throw .protocolViolation("\(error)") }
    try send(machine.start())
    let deadline = Deadline(afterMilliseconds: Self.handshakeTimeoutMilliseconds)
    while true {
      guard let message = try receive(until: deadline) else { throw .timedOut("handshake (no welcome within 10 s)") }
      let step: ClientHandshake.Step
      do { step = try machine.receive(message) } catch { throw .rejected(Self.describe(error)) }
      switch step {
      case .send(let reply): try send(reply)
      case .established(let welcome):
        if welcome.heartbeatMillis > 0 {
          heartbeatMilliseconds = Int64(welcome.heartbeatMillis).clamped(to: Self.heartbeatBoundsMilliseconds)
        }
        try resume(after: welcome.lastDurableSequence)
        return welcome
      }
    }
  }

  private static func describe(_ error: HandshakeError) -> String {
    switch error {
    case .wrongSecret: return "wrong secret (the collector's proof does not verify, or it refused ours)"
    case .rejected(let code, let text): return "error \(code): \(peerText(text))"
    default: return "handshake: \(error)"
    }
  }

  /// Highest wire sequence this journal has ever held (a fresh journal's replacement
  /// gap included): nothing above it can be durable on this server's account.
  /// Bounded by ``maximumSequence`` plus the journal's record count: never wraps.
  var highestJournaled: UInt64 { journal.wireOffset &+ journal.statistics.nextSequence }

  /// The collector says it holds everything through wire sequence `durable`. Nothing
  /// is skipped or released on that word alone: delivery resumes at the journal's
  /// released point and only an ack of what this session sent releases (``handle(_:)``).
  /// - Throws: `.protocolViolation` when `durable` is beyond anything this journal
  ///   has held (or beyond ``maximumSequence`` for a journal still to be settled):
  ///   the sender logs it, closes and backs off; the journal is untouched.
  mutating func resume(after durable: UInt64) throws(SenderError) {
    guard durable <= Self.maximumSequence else {
      throw .protocolViolation("the welcome claims sequence \(durable) is durable, beyond any sequence a plugin uses: nothing released")
    }
    if journal.freshness != .settled {
      settleFreshJournal(collectorDurable: durable)
    } else if durable > highestJournaled {
      throw .protocolViolation("the collector claims it holds through \(durable) but this journal has only ever held through \(highestJournaled): nothing released (a ledger restored from another server's, or this journal restored from an older copy?)")
    }
    wireOffset = journal.wireOffset
    highestSent = 0
    acknowledged = durable
    carried = nil
    replacementGapDue = nil
    unacknowledgedBatchEnds.removeAll()
    holdingSince = 0
    if wireOffset > 0 && durable < wireOffset {
      // The replacement gap (at wireOffset) is not durable yet: it goes first.
      if durable + 1 < wireOffset {
        log.error("collector holds only through \(durable), below this journal's first sequence \(wireOffset): was its ledger replaced?")
      }
      let position = journal.seek(to: 0)
      replacementGapDue = wireOffset
      nextToSend = wireOffset
      if position > 0 {
        log.error("journal released through \(position - 1) but the collector does not hold it: those sequences arrive as a hole")
      }
      return
    }
    // Wire durable D = journal sequences 0..<D − wireOffset. Resend from the released
    // point, not from D: what the collector already holds it drops as duplicates and
    // acks, so nothing is skipped, and nothing released, on the welcome's word alone.
    let local = durable - wireOffset
    let released = journal.releasedSequence
    let position = journal.seek(to: released)
    nextToSend = JournalEventSource.wireSequence(ofJournal: position, wireOffset: wireOffset)
    acknowledged = min(durable, nextToSend - 1)  // released through here; acks of the resent records move it
    if position > local {
      // Released here but not durable there (the collector lost its ledger): say so.
      let notice = GapNotice(firstSequence: durable + 1, count: position - local, reason: .other)
      log.error("collector holds only through \(durable) but the journal released through \(nextToSend - 1): reporting a gap of \(position - local)")
      try? send(.gapNotice(notice))
    }
  }

  /// A journal laid out anew numbers from 0, but the collector may already hold this
  /// server's events through `collectorDurable`. Continue after them: reserve
  /// `collectorDurable + 1` for a gap standing for what the old journal lost (so the
  /// collector records it and reconciles at once) and number the journal's records
  /// from `collectorDurable + 2`. A brand-new server (nothing durable) whose journal
  /// lost nothing keeps wire = journal + 1.
  private mutating func settleFreshJournal(collectorDurable durable: UInt64) {
    let lost = journal.freshness == .freshAfterLoss
    guard durable > 0 || lost else {
      journal.settle(wireOffset: 0)
      return
    }
    journal.settle(wireOffset: durable + 1)
    log.warning("journal is new\(lost ? " (the damaged one was moved aside)" : "") and the collector holds this server's events through \(durable): its records continue from sequence \(durable + 2); sequence \(durable + 1) is a gap for what the old journal held, for reconciliation to heal")
  }

  // MARK: Streaming

  /// Streams until an error (thrown), stop (`.stopped`) or `reconfigure` (which may
  /// change the source's groups and the idle strategy in place) returns true (`.reconfigured`).
  mutating func stream(
    events source: inout JournalEventSource, reconfigure: (inout JournalEventSource, inout SenderIdle) -> Bool
  ) throws(SenderError) {
    lastReceived = Deadline.now()
    // Watched with the journal: bit 0 of a wait's readable mask is the socket.
    let watched = [stream.descriptor, stop.fd]
    var socketReadable = true
    while true {
      if stop.wasRaised { throw .stopped }
      if reconfigure(&source, &idle) { throw .reconfigured }
      if socketReadable {
        try pumpIncoming(timeoutMilliseconds: 0)
        socketReadable = false
      }
      if let commands, commands.hasResults {
        // Before events: results are rare and a busy journal must not starve them.
        // Recorded durably before they got here: a result lost with this connection is
        // answered again from the record when the collector resends its command.
        for result in commands.takeResults() { try send(.commandResult(result)) }
      }
      if try holdForAck() { continue }
      if try sendBatch(&source) {
        // Backlogged (no wait in between to report the socket): read acks once per batch.
        socketReadable = carried != nil || journal.hasRecordToRead
        continue
      }
      if let chunk = snapshots.nextChunk(source: &source, log: log, now: Deadline.now()) {
        try write(chunk)
        continue
      }

      let now = Deadline.now()
      let interval = UInt64(heartbeatMilliseconds) * 1_000_000
      let silent = now &- lastReceived
      if silent > 3 * interval { throw .peerSilent(milliseconds: Int64(silent / 1_000_000)) }
      if now &- lastSent >= interval {
        try send(.heartbeat(Heartbeat(timestampNanos: now)))
      }
      let inFlight = nextToSend &- 1 > acknowledged
      let untilHeartbeat = Int64(interval) - Int64(Deadline.now() &- lastSent)
      let untilSilence = Int64(3 * interval) - Int64(Deadline.now() &- lastReceived)
      var park = max(1_000_000, min(untilHeartbeat, untilSilence))
      if let due = snapshots.delay(now: Deadline.now()) { park = min(park, max(Int64(due), 1)) }
      // A record OpenSSL already took off the socket would not make it readable.
      if stream.hasBufferedInput {
        socketReadable = true
        continue
      }
      let spins = inFlight ? 100 : 200
      let woke: JournalWait
      switch idle {
      case .busySpin:
        woke = journal.spinForRecord(timeoutNanoseconds: park, orReadable: watched, yielding: false)
      case .yield:
        // A yield is a system call already: poll the socket every 8th, not every 256th.
        woke = journal.spinForRecord(timeoutNanoseconds: park, orReadable: watched, yielding: true, pollEvery: 8)
      case .backoff(let poll):
        woke = journal.waitForRecord(
          spinIterations: spins, timeoutNanoseconds: park, orReadable: watched,
          warmWindowNanoseconds: Self.warmWindowNanoseconds, warmPollNanoseconds: Int64(poll) * 1_000)
      case .park:
        woke = journal.waitForRecord(spinIterations: spins, timeoutNanoseconds: park, orReadable: watched)
      }
      socketReadable = woke.readableDescriptors & 1 != 0
      trace?.wake = Deadline.now()
    }
  }

  /// Sends one batch of consecutive events if the journal has any. - Returns: whether it sent.
  mutating func sendBatch(_ source: inout JournalEventSource) throws(SenderError) -> Bool {
    let readAt = trace == nil ? 0 : Deadline.now()
    var firstHook: UInt64 = 0
    var builder: EventBatchBuilder?
    while true {
      let event: Event
      if let reserved = replacementGapDue {
        event = source.replacementGap(sequence: reserved)
        replacementGapDue = nil
      } else if let pending = carried {
        event = pending
        carried = nil
      } else {
        guard let record = journal.nextRecord() else { break }
        event = source.event(for: record, wireOffset: wireOffset)
      }
      if builder == nil {
        builder = EventBatchBuilder(firstSequence: event.sequence)
        firstHook = event.hookTimestampNanos
      }
      if !builder!.append(event) {
        carried = event
        break
      }
    }
    guard let builder, builder.count > 0 else {
      if let stuck = carried, builder != nil {
        // One event alone does not fit a frame: cannot happen with 512-byte slots;
        // replace it with a gap rather than stall delivery forever.
        log.error("event \(stuck.sequence) does not fit a frame: sent as a gap")
        carried = Event(
          serverId: stuck.serverId, sequence: stuck.sequence, kind: .gap, hookTimestampNanos: stuck.hookTimestampNanos,
          utcOffsetMinutes: stuck.utcOffsetMinutes, body: .gap(Gap(firstSequence: stuck.sequence, count: 1, reason: .other)))
        return true
      }
      return false
    }
    let frame = builder.finishFrame()
    let encodedAt = trace == nil ? 0 : Deadline.now()
    try write(frame)
    if let trace {
      trace.batch(
        firstSequence: builder.firstSequence, events: builder.count, hook: firstHook, read: readAt,
        encoded: encodedAt, written: Deadline.now())
    }
    nextToSend = builder.nextSequence
    highestSent = nextToSend &- 1
    unacknowledgedBatchEnds.append(nextToSend)
    return true
  }

  /// While the collector is behind (``batchesAheadBeforeHolding`` batches unacked)
  /// and few events are ready, waits on the socket alone (≤ 1 ms; hooks make no
  /// wake-up call meanwhile) so that the ready events leave as one batch after its
  /// ack. - Returns: whether it held (the caller re-checks everything).
  private mutating func holdForAck() throws(SenderError) -> Bool {
    guard unacknowledgedBatchEnds.count >= Self.batchesAheadBeforeHolding,
          carried != nil || journal.hasRecordToRead else {
      holdingSince = 0
      return false
    }
    let now = Deadline.now()
    if holdingSince == 0 { holdingSince = now }
    let ready = journal.statistics.nextSequence &- journal.nextSequenceToRead
    guard now &- holdingSince < Self.holdNanoseconds, ready < Self.holdUntilEvents else {
      holdingSince = 0
      return false
    }
    try pumpIncoming(timeoutMilliseconds: 1)
    return true
  }

  /// Reads and handles whatever the collector sent (acks, heartbeats, requests).
  private mutating func pumpIncoming(timeoutMilliseconds: Int64) throws(SenderError) {
    var timeout = timeoutMilliseconds
    while true {
      let n = try readSome(timeoutMilliseconds: timeout)
      if n == 0 { return }
      timeout = 0
      lastReceived = Deadline.now()
      readBuffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
      while let message = try nextMessage() { try handle(message) }
    }
  }

  mutating func handle(_ message: Message) throws(SenderError) {
    switch message {
    case .ack(let ack):
      guard ack.throughSequence <= highestJournaled else {
        throw .protocolViolation("ack through \(ack.throughSequence), beyond anything this journal has held (\(highestJournaled)): nothing released")
      }
      // Only what this session sent is released on an ack (an ack above it is
      // clamped: it may stand for another connection's commit, never for unsent records).
      let through = min(ack.throughSequence, highestSent)
      guard through > acknowledged else { return }
      acknowledged = through
      while let end = unacknowledgedBatchEnds.first, end &- 1 <= through { unacknowledgedBatchEnds.removeFirst() }
      if through > wireOffset { journal.release(through: through - 1 - wireOffset) }
    case .heartbeat:
      break  // lastReceived is already updated
    case .snapshotRequest(let request):
      // Answered by the stream loop, paced, when the journal has nothing to send.
      if let refusal = snapshots.enqueue(request) {
        log.warning("snapshot request \(request.requestId) refused: \(SnapshotResponder.maxQueuedRequests) already queued")
        try send(.snapshotChunk(refusal))
      }
    case .command(let command):
      if !commandsEnabled {
        // Nothing ran, and nothing will while the parameter says so: final.
        try send(.commandResult(CommandResultMessage(
          commandId: command.commandId, status: .rejected, hostResult: CommandRunner.unsupported,
          reason: "commands_disabled")))
      } else if let commands {
        commands.submit(command)
      } else {
        try send(.commandResult(CommandResultMessage(
          commandId: command.commandId, status: .unknown, reason: "the plugin cannot start its command thread")))
      }
    case .error(let error):
      throw .rejected("error \(error.code): \(peerText(error.message))")
    default:
      throw .protocolViolation("unexpected \(message.type) from the collector")
    }
  }

  // MARK: Frames

  private mutating func nextMessage() throws(SenderError) -> Message? {
    let frame: Frame?
    do { frame = try decoder.nextFrame() } catch { throw .protocolViolation("bad frame: \(error)") }
    guard let frame else { return nil }
    do { return try Message(frame: frame) } catch { throw .protocolViolation("bad message: \(error)") }
  }

  /// The next message, reading until `deadline`; nil on timeout.
  private mutating func receive(until deadline: Deadline) throws(SenderError) -> Message? {
    while true {
      if let message = try nextMessage() { return message }
      let remaining = Int64(deadline.remainingPollTimeout)
      if remaining == 0 { return nil }
      let n = try readSome(timeoutMilliseconds: remaining)
      if n > 0 {
        lastReceived = Deadline.now()
        readBuffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
      }
    }
  }

  private mutating func send(_ message: Message) throws(SenderError) {
    try write(encoder.encode(message))
  }

  mutating func write(_ bytes: [UInt8]) throws(SenderError) {
    // A collector that cannot take a frame for three heartbeat intervals is dead.
    let stream = self.stream
    let timeout = 3 * heartbeatMilliseconds
    var outcome: Result<Void, SenderError> = .success(())
    bytes.withUnsafeBytes { buffer in
      outcome = Result { () throws(SenderError) in try stream.write(buffer, timeoutMilliseconds: timeout) }
    }
    try outcome.get()
    lastSent = Deadline.now()
  }

  /// Reads into `readBuffer`. - Returns: bytes read (0: nothing within the timeout).
  private mutating func readSome(timeoutMilliseconds: Int64) throws(SenderError) -> Int {
    let stream = self.stream
    var outcome: Result<Int, SenderError> = .success(0)
    readBuffer.withUnsafeMutableBytes { buffer in
      outcome = Result { () throws(SenderError) in try stream.read(into: buffer, timeoutMilliseconds: timeoutMilliseconds) }
    }
    return try outcome.get()
  }
}
