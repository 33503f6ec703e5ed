import Logging
import NIOCore
import Synchronization
import TradeTapLedger

/// One TCP connection of a FIX peer, as the session sees it.
struct FIXConnection: Sendable {
  let channel: any Channel
  /// Its messages waiting in the session's loop (bounds what a flooding peer costs).
  let gate: FIXReadGate
  var id: ObjectIdentifier { ObjectIdentifier(channel) }

  /// Writes `messages` and waits until they are flushed to the socket (back-pressure).
  func send(_ messages: [[UInt8]]) async throws {
    guard !messages.isEmpty else { return }
    var buffer = channel.allocator.buffer(capacity: messages.reduce(0) { $0 + $1.count })
    for message in messages { buffer.writeBytes(message) }
    try await channel.writeAndFlush(buffer).get()
  }

  func close() { channel.close(promise: nil) }
}

/// Back-pressure from a session's loop to one connection: past ``pauseAbove`` messages
/// waiting, the connection stops reading; it reads again once the loop is down to
/// ``resumeBelow``. So a peer that floods (before or after its Logon) holds at most
/// that many messages, plus one socket read, in memory.
final class FIXReadGate: Sendable {
  private let waiting = Atomic<Int>(0)
  static let pauseAbove = 256
  static let resumeBelow = 16

  /// A message was handed to the loop (on the connection's event loop).
  func handedOver(_ channel: any Channel) {
    if waiting.add(1, ordering: .relaxed).newValue == Self.pauseAbove {
      channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }
  }

  /// The loop is done with one of its messages.
  func processed(_ channel: any Channel) {
    if waiting.subtract(1, ordering: .relaxed).newValue == Self.resumeBelow {
      channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }
  }
}

/// A FIX 4.4 drop copy session, acceptor side (docs/fix.md). Everything the session
/// does (a peer's message, a batch of reports, the heartbeat clock) goes through one
/// serial loop, so sequence numbers are taken and written in one order, and every
/// number taken is stored in the ledger before the message leaves.
final class FIXSession: Sendable {
  enum Work: Sendable {
    case logon(FIXConnection, FIXMessage)
    case message(FIXConnection, FIXMessage)
    case garbled(FIXConnection, String)
    case closed(FIXConnection)
    case deliver(firstChangeId: Int64, lastChangeId: Int64, CheckedContinuation<Bool, any Error>)
    case tick
  }

  /// Counters for `GET /v1/outputs` and `tradetap demo --fix`.
  struct Counters: Sendable {
    var loggedOn = false
    var sent: Int64 = 0
    var resent: Int64 = 0
    var gapFills: Int64 = 0
    var rejects: Int64 = 0
    var logons: Int64 = 0
  }

  let settings: FIXSessionSettings
  private let ledger: any LedgerStore
  private let reports: FIXReports
  private let logger: Logger
  private let inbox: AsyncStream<Work>.Continuation
  private let stream: AsyncStream<Work>
  private let counters = Mutex(Counters())
  private let loop = Mutex<Task<Void, Never>?>(nil)
  /// Most reports rendered and written per round of a resend.
  static let resendChunk = 500

  init(settings: FIXSessionSettings, ledger: any LedgerStore, logger: Logger) {
    self.settings = settings
    self.ledger = ledger
    reports = FIXReports(ledger: ledger)
    var logger = logger
    logger[metadataKey: "tradetap.fix_session"] = "\(settings.name)"
    self.logger = logger
    (stream, inbox) = AsyncStream.makeStream(of: Work.self, bufferingPolicy: .unbounded)
  }

  var isLoggedOn: Bool { counters.withLock { $0.loggedOn } }
  var snapshot: Counters { counters.withLock { $0 } }

  func submit(_ work: Work) { inbox.yield(work) }

  func start() {
    let task = Task { await self.run() }
    loop.withLock { $0 = task }
    let ticker = Task { [inbox] in
      while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(1))
        inbox.yield(.tick)
      }
    }
    _ = ticker
    tickerTask.withLock { $0 = ticker }
  }
  private let tickerTask = Mutex<Task<Void, Never>?>(nil)

  func stop() async {
    tickerTask.withLock { $0?.cancel() }
    inbox.finish()
    let task = loop.withLock { $0 }
    await task?.value
  }

  /// Reports the changes `firstChangeId...lastChangeId` to the logged-on peer; returns
  /// false, sending nothing, when no peer is logged on.
  func deliver(firstChangeId: Int64, lastChangeId: Int64) async throws -> Bool {
    try await withCheckedThrowingContinuation { continuation in
      inbox.yield(.deliver(firstChangeId: firstChangeId, lastChangeId: lastChangeId, continuation))
    }
  }

  // MARK: The loop's state (touched by the loop only)

  private struct Live {
    var connection: FIXConnection
    var heartBtInt: Int
    var lastReceived: ContinuousClock.Instant
    var lastSent: ContinuousClock.Instant
    var testRequestSent: ContinuousClock.Instant?
  }

  private func run() async {
    var state = FIXSequenceState()
    while !Task.isCancelled {
      do {
        state = try await ledger.fixSequences(settings.name)
        break
      } catch {
        logger.warning("cannot read the FIX session's sequence numbers: \(error); trying again")
        try? await Task.sleep(for: .seconds(1))
      }
    }
    var live: Live? = nil
    for await work in stream {
      if case .logon(let connection, _) = work { connection.gate.processed(connection.channel) }
      if case .message(let connection, _) = work { connection.gate.processed(connection.channel) }
      do {
        try await handle(work, state: &state, live: &live)
      } catch {
        logger.warning("FIX session: \(error); closing its connection")
        if let connection = live?.connection { connection.close() }
        live = nil
        counters.withLock { $0.loggedOn = false }
        if case .deliver(_, _, let continuation) = work { continuation.resume(throwing: error) }
      }
    }
    live?.connection.close()
    counters.withLock { $0.loggedOn = false }
  }

  private func handle(_ work: Work, state: inout FIXSequenceState, live: inout Live?) async throws {
    switch work {
    case .logon(let connection, let message):
      try await logon(connection, message, state: &state, live: &live)
    case .message(let connection, let message):
      guard var current = live, current.connection.id == connection.id else { return }
      current.lastReceived = .now
      current.testRequestSent = nil
      live = current
      try await receive(message, state: &state, live: &live)
    case .garbled(let connection, let reason):
      guard let current = live, current.connection.id == connection.id else { return }
      try await logout(reason, state: &state, live: current)
      live = nil
    case .closed(let connection):
      guard let current = live, current.connection.id == connection.id else { return }
      live = nil
      counters.withLock { $0.loggedOn = false }
      logger.info("FIX session disconnected at outgoing \(state.nextOutgoing), incoming \(state.nextIncoming)")
    case .deliver(let first, let last, let continuation):
      guard let current = live else {
        continuation.resume(returning: false)
        return
      }
      try await report(first...last, state: &state, live: current)
      continuation.resume(returning: true)
    case .tick:
      guard var current = live else { return }
      let now = ContinuousClock.now
      let interval = Duration.seconds(current.heartBtInt)
      if let asked = current.testRequestSent, now - asked > interval {
        try await logout("no answer to TestRequest", state: &state, live: current)
        live = nil
        return
      }
      if current.testRequestSent == nil, now - current.lastReceived > interval + .seconds(1) {
        try await send(.testRequest, [(FIXTag.testReqID, "TT-\(state.nextOutgoing)")], state: &state, to: current)
        current.testRequestSent = now
        current.lastSent = now
      } else if now - current.lastSent >= interval {
        try await send(.heartbeat, [], state: &state, to: current)
        current.lastSent = now
      }
      live = current
    }
  }

  // MARK: Logon and the peer's messages

  private func logon(_ connection: FIXConnection, _ message: FIXMessage, state: inout FIXSequenceState, live: inout Live?)
    async throws
  {
    func refuse(_ reason: String) async {
      logger.warning("FIX logon refused: \(reason)")
      let refusal = FIXSession.header(.logout, seq: state.nextOutgoing, settings: settings, sendingTime: FIXTimeNow.fix())
        + [(FIXTag.text, reason)]
      try? await connection.send([FIXMessage(refusal).encoded()])
      connection.close()
    }
    if live != nil {
      await refuse("session \(settings.senderCompID)/\(settings.targetCompID) is already logged on")
      return
    }
    if let expected = settings.password {
      guard let given = message[FIXTag.password], Self.constantTimeEqual(Array(given.utf8), expected) else {
        await refuse(message[FIXTag.password] == nil ? "Password (554) required" : "wrong Password (554)")
        return
      }
    }
    guard let text = message[FIXTag.heartBtInt], let heartBtInt = Int(text), (1...3_600).contains(heartBtInt) else {
      await refuse("HeartBtInt (108) must be 1 to 3600 seconds")
      return
    }
    guard let seq = message.seqNum else {
      await refuse("MsgSeqNum (34) missing")
      return
    }
    let reset = message[FIXTag.resetSeqNumFlag] == "Y"
    if reset {
      guard seq == 1 else {
        await refuse("ResetSeqNumFlag (141=Y) needs MsgSeqNum 1")
        return
      }
      state.nextOutgoing = 1
      state.nextIncoming = 1
    } else if seq < state.nextIncoming {
      await refuse("MsgSeqNum too low, expecting \(state.nextIncoming) but received \(seq)")
      return
    }
    // A higher number than expected is taken as it is: the peer's messages are all
    // administrative, so nothing of theirs needs to be resent (docs/fix.md).
    state.nextIncoming = seq + 1
    let now = ContinuousClock.now
    let current = Live(connection: connection, heartBtInt: heartBtInt, lastReceived: now, lastSent: now)
    var fields: [(tag: Int, value: String)] = [(FIXTag.encryptMethod, "0"), (FIXTag.heartBtInt, String(heartBtInt))]
    if reset { fields.append((FIXTag.resetSeqNumFlag, "Y")) }
    try await send(.logon, fields, state: &state, to: current, reset: reset)
    live = current
    counters.withLock {
      $0.loggedOn = true
      $0.logons += 1
    }
    logger.info("FIX session logged on\(reset ? " with a sequence reset" : ""): outgoing \(state.nextOutgoing), incoming \(state.nextIncoming)")
  }

  private func receive(_ message: FIXMessage, state: inout FIXSequenceState, live: inout Live?) async throws {
    guard let current = live else { return }
    guard let seq = message.seqNum else {
      try await logout("MsgSeqNum (34) missing", state: &state, live: current)
      live = nil
      return
    }
    let type = message.msgType ?? ""
    if message[FIXTag.senderCompID] != settings.targetCompID || message[FIXTag.targetCompID] != settings.senderCompID {
      try await reject(seq, type: type, tag: FIXTag.senderCompID, reason: "9", text: "CompID problem", state: &state, to: current)
      try await logout("CompID problem", state: &state, live: current)
      live = nil
      return
    }
    if seq < state.nextIncoming {
      if message.possDup { return }
      try await logout("MsgSeqNum too low, expecting \(state.nextIncoming) but received \(seq)", state: &state, live: current)
      live = nil
      return
    }
    if type == "4", message[FIXTag.gapFillFlag] != "Y", let next = message[FIXTag.newSeqNo].flatMap({ Int64($0) }) {
      state.nextIncoming = max(state.nextIncoming, next)  // SequenceReset-Reset: ignores MsgSeqNum
      try await save(state)
      return
    }
    state.nextIncoming = seq + 1
    for (tag, name) in [(FIXTag.msgType, "MsgType"), (FIXTag.sendingTime, "SendingTime")] where message[tag] == nil {
      try await reject(seq, type: type, tag: tag, reason: "1", text: "Required tag missing: \(name) (\(tag))", state: &state, to: current)
      return
    }
    switch type {
    case "0":  // Heartbeat
      try await save(state)
    case "1":  // TestRequest
      try await send(.heartbeat, [(FIXTag.testReqID, message[FIXTag.testReqID] ?? "")], state: &state, to: current)
    case "2":  // ResendRequest
      guard let begin = message[FIXTag.beginSeqNo].flatMap({ Int64($0) }), let end = message[FIXTag.endSeqNo].flatMap({ Int64($0) })
      else {
        try await reject(seq, type: type, tag: FIXTag.beginSeqNo, reason: "1", text: "BeginSeqNo (7) and EndSeqNo (16) required", state: &state, to: current)
        return
      }
      try await resend(from: begin, through: end, state: &state, to: current)
    case "3":  // Reject of something we sent
      logger.warning("FIX peer rejected message \(message[FIXTag.refSeqNum] ?? "?"): \(message[FIXTag.text] ?? "")")
      try await save(state)
    case "4":  // SequenceReset-GapFill
      if let next = message[FIXTag.newSeqNo].flatMap({ Int64($0) }) { state.nextIncoming = max(state.nextIncoming, next) }
      try await save(state)
    case "5":  // Logout
      try await send(.logout, [], state: &state, to: current)
      current.connection.close()
      live = nil
      counters.withLock { $0.loggedOn = false }
      logger.info("FIX session logged out at outgoing \(state.nextOutgoing), incoming \(state.nextIncoming)")
    case "A":
      try await reject(seq, type: type, tag: FIXTag.msgType, reason: "5", text: "already logged on", state: &state, to: current)
    default:
      try await reject(seq, type: type, tag: FIXTag.msgType, reason: "11", text: "a drop copy session takes no application messages", state: &state, to: current)
    }
  }

  // MARK: Sending

  enum AdminType: String {
    case heartbeat = "0", testRequest = "1", reject = "3", sequenceReset = "4", logout = "5", logon = "A"
  }

  static func header(_ type: AdminType, seq: Int64, settings: FIXSessionSettings, sendingTime: String) -> [(tag: Int, value: String)] {
    header(type.rawValue, seq: seq, settings: settings, sendingTime: sendingTime)
  }

  static func header(_ type: String, seq: Int64, settings: FIXSessionSettings, sendingTime: String) -> [(tag: Int, value: String)] {
    [(FIXTag.msgType, type), (FIXTag.senderCompID, settings.senderCompID), (FIXTag.targetCompID, settings.targetCompID),
     (FIXTag.msgSeqNum, String(seq)), (FIXTag.sendingTime, sendingTime)]
  }

  /// Sends one administrative message, its number stored first.
  private func send(
    _ type: AdminType, _ fields: [(tag: Int, value: String)], state: inout FIXSequenceState, to live: Live, reset: Bool = false
  ) async throws {
    let message = FIXMessage(Self.header(type, seq: state.nextOutgoing, settings: settings, sendingTime: FIXTimeNow.fix()) + fields)
    state.nextOutgoing += 1
    try await ledger.saveFIXSequences(settings.name, state, reports: [], reset: reset)
    try await live.connection.send([message.encoded()])
  }

  private func save(_ state: FIXSequenceState) async throws {
    try await ledger.saveFIXSequences(settings.name, state, reports: [], reset: false)
  }

  private func reject(
    _ refSeq: Int64, type: String, tag: Int, reason: String, text: String, state: inout FIXSequenceState, to live: Live
  ) async throws {
    counters.withLock { $0.rejects += 1 }
    logger.warning("FIX Reject of message \(refSeq): \(text)")
    var fields: [(tag: Int, value: String)] = [(FIXTag.refSeqNum, String(refSeq)), (FIXTag.refTagID, String(tag))]
    if !type.isEmpty { fields.append((FIXTag.refMsgType, type)) }
    fields += [(FIXTag.sessionRejectReason, reason), (FIXTag.text, text)]
    try await send(.reject, fields, state: &state, to: live)
  }

  private func logout(_ reason: String, state: inout FIXSequenceState, live: Live) async throws {
    logger.warning("FIX session logged out by the collector: \(reason)")
    counters.withLock { $0.loggedOn = false }
    try? await send(.logout, [(FIXTag.text, reason)], state: &state, to: live)
    live.connection.close()
  }

  /// Reports the changes in `range` that are trade deals and not yet reported: each
  /// gets the next number, all numbers and the session's last change are stored in
  /// one transaction, then the reports leave.
  private func report(_ range: ClosedRange<Int64>, state: inout FIXSequenceState, live: Live) async throws {
    guard range.upperBound > state.lastChangeId else { return }
    let rows = try await ledger.changes(afterId: max(range.lowerBound - 1, state.lastChangeId), limit: Int(range.upperBound - range.lowerBound + 1))
    var messages: [[UInt8]] = []
    var sent: [FIXSentReport] = []
    let iso = UTCTime.now()
    let sendingTime = FIXTime.timestamp(utc: iso)
    var next = state
    for row in rows {
      let changeId = row.integer("id") ?? 0
      guard changeId <= range.upperBound else { break }
      if let body = try await reports.report(for: row) {
        messages.append(FIXMessage(Self.header("8", seq: next.nextOutgoing, settings: settings, sendingTime: sendingTime) + body).encoded())
        sent.append(FIXSentReport(seq: next.nextOutgoing, changeId: changeId, sentUtc: iso, body: FIXReports.text(body)))
        next.nextOutgoing += 1
      }
    }
    next.lastChangeId = max(state.lastChangeId, range.upperBound)
    try await ledger.saveFIXSequences(settings.name, next, reports: sent, reset: false)
    state = next
    try await live.connection.send(messages)
    counters.withLock { $0.sent += Int64(messages.count) }
  }

  /// Serves a ResendRequest from the ledger: each report again, its body as first sent,
  /// with PossDupFlag=Y and its first SendingTime as OrigSendingTime; a SequenceReset-GapFill over every run
  /// of administrative numbers (they are never resent).
  private func resend(from begin: Int64, through requestedEnd: Int64, state: inout FIXSequenceState, to live: Live) async throws {
    let last = state.nextOutgoing - 1
    let end = requestedEnd == 0 || requestedEnd > last ? last : requestedEnd
    logger.info("FIX ResendRequest \(begin) to \(requestedEnd == 0 ? "infinity" : String(requestedEnd)): serving \(begin)...\(end)")
    guard begin >= 1, begin <= end else { return }
    var seq = begin
    var gapStart: Int64? = nil
    let now = FIXTimeNow.fix()
    var resent: Int64 = 0, gapFills: Int64 = 0
    func gapFill(_ from: Int64, upTo newSeqNo: Int64) -> [UInt8] {
      gapFills += 1
      return FIXMessage(Self.header(.sequenceReset, seq: from, settings: settings, sendingTime: now) + [
        (FIXTag.possDupFlag, "Y"), (FIXTag.origSendingTime, now), (FIXTag.gapFillFlag, "Y"), (FIXTag.newSeqNo, String(newSeqNo)),
      ]).encoded()
    }
    while seq <= end {
      let chunkEnd = min(end, seq + Int64(Self.resendChunk) - 1)
      let sent = try await ledger.fixReports(settings.name, fromSeq: seq, throughSeq: chunkEnd)
      var messages: [[UInt8]] = []
      for report in sent {
        guard let body = try? FIXFrameDecoder.fields(ArraySlice(report.body.utf8)).fields, !body.isEmpty else {
          continue  // unreadable: its number is gap-filled
        }
        if report.seq > seq || gapStart != nil {
          messages.append(gapFill(gapStart ?? seq, upTo: report.seq))
          gapStart = nil
        }
        var header = Self.header("8", seq: report.seq, settings: settings, sendingTime: now)
        header += [(FIXTag.possDupFlag, "Y"), (FIXTag.origSendingTime, FIXTime.timestamp(utc: report.sentUtc))]
        messages.append(FIXMessage(header + body).encoded())
        resent += 1
        seq = report.seq + 1
      }
      if seq <= chunkEnd, gapStart == nil { gapStart = seq }
      seq = chunkEnd + 1
      try await live.connection.send(messages)
    }
    if let start = gapStart {
      try await live.connection.send([gapFill(start, upTo: end + 1)])
    }
    counters.withLock {
      $0.resent += resent
      $0.gapFills += gapFills
    }
    logger.info("FIX resend done: \(resent) reports again, \(gapFills) gap fills")
  }

  static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) { difference |= x ^ y }
    return difference == 0
  }
}

enum FIXTimeNow {
  /// Now as a FIX UTCTimestamp with milliseconds.
  static func fix() -> String { FIXTime.timestamp(utc: UTCTime.now()) }
}
