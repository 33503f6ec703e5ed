import Logging
import NIOCore
import NIOPosix
import Synchronization
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// What every plugin connection of one collector shares.
final class ConnectionEnvironment: Sendable {
  let configuration: CollectorConfiguration
  let ledger: any LedgerStore
  let committer: GroupCommitter
  let metrics: CollectorMetrics
  let logger: Logger
  let replayGuard = Mutex(NonceReplayGuard())
  /// The one authenticated connection of each server id.
  let live = LiveConnections()
  /// Refusal log lines: at most 10 a second, the rest counted.
  let refusalLog = RefusalLog()
  /// Connections in the handshake now (capped by `maxHandshakingConnections`).
  let handshaking = Atomic<Int>(0)
  /// Refusals over the handshake cap: logged at most once a second, with a count.
  private let busyRefusals = Mutex((lastLogged: NIODeadline.uptimeNanoseconds(0), unlogged: 0))

  /// A connection refused over the handshake cap (one log line a second at most).
  func noteBusyRefusal(peer: String) {
    let now = NIODeadline.now()
    let toLog: Int? = busyRefusals.withLock { state in
      state.unlogged += 1
      guard now - state.lastLogged >= .seconds(1) else { return nil }
      state.lastLogged = now
      defer { state.unlogged = 0 }
      return state.unlogged
    }
    if let count = toLog {
      logger.warning("connection refused: server busy, \(configuration.maxHandshakingConnections) connections already in the handshake", metadata: [
        "tradetap.peer": "\(peer)", "tradetap.refused_since_last_line": "\(count)",
      ])
    }
  }
  /// Reconciliation sweeps (off unless `reconcileInterval` is set).
  let reconciler: Reconciler
  /// CRM commands to the plugins, results back (docs/commands.md).
  let commands: CommandDelivery

  init(
    configuration: CollectorConfiguration, ledger: any LedgerStore, committer: GroupCommitter, metrics: CollectorMetrics,
    logger: Logger
  ) {
    self.configuration = configuration
    self.ledger = ledger
    self.committer = committer
    self.metrics = metrics
    self.logger = logger
    self.reconciler = Reconciler(
      interval: configuration.reconcileInterval, ledger: ledger, metrics: metrics.reconciliation, logger: logger,
      limits: Reconciler.Limits(configuration))
    self.commands = CommandDelivery(ledger: ledger, logger: logger)
  }

  deinit {
    reconciler.stop()
    commands.stop()
  }
}

/// Sent down a live connection's pipeline by a newer connection of its server id.
enum LiveConnectionEvent: Sendable {
  /// A newer connection proved this one gone (silent two heartbeat intervals) and took its server id.
  case replaced(silentFor: TimeAmount)
  /// A newer connection was refused because of this one: write a heartbeat, so a
  /// peer that is gone answers with a reset and this connection closes at once.
  case probe
}

/// Sent down every plugin connection's pipeline by a graceful shutdown.
enum CollectorShutdownEvent: Sendable {
  /// Take no new batches; the ones already submitted still commit and get acked.
  case stopIntake
  /// Every commit is done and its ack queued: close.
  case finish
}

/// One plugin connection: handshake, then event batches → dedupe → group commit →
/// cumulative ack after the commit. Heartbeats are answered (one echo per 100 ms at
/// most) and sent when idle; a peer silent for three intervals is dropped. Any
/// failure sends a specific error frame, logs one line (rate-limited) and closes
/// this connection only.
///
/// Output is bounded: while the channel is unwritable (64 KiB unsent) nothing is
/// read from it, duplicate batches earn one cumulative ack per read burst, and
/// acks owed while unwritable are coalesced into one. A peer that never reads
/// therefore stalls only itself.
final class PluginConnectionHandler: ChannelDuplexHandler {
  typealias InboundIn = Message
  typealias OutboundIn = Message
  typealias OutboundOut = Message

  private enum State {
    case handshaking(ServerHandshake)
    case lookingUpResumePoint
    case streaming(serverId: UInt32)
    case closing
  }

  private let environment: ConnectionEnvironment
  private var logger: Logger
  private var state: State
  /// Highest sequence known durable for this peer (acknowledged, or owed: ``ackOwed``).
  private var acknowledged: UInt64 = 0
  /// Highest sequence an ack frame (or the welcome) has carried to this peer.
  private var ackWritten: UInt64 = 0
  /// An ack through `acknowledged` is due: written at once when writable, else when
  /// the channel drains; for duplicates, once at the end of the read burst.
  private var ackOwed = false
  /// When a heartbeat was last echoed (at most one echo per ``heartbeatEchoInterval``).
  private var lastEcho = NIODeadline.uptimeNanoseconds(0)
  static let heartbeatEchoInterval = TimeAmount.milliseconds(100)
  /// When this connection was last heard from, shared with `environment.live`.
  private let liveness = ConnectionLiveness()
  /// The server id this connection holds in `environment.live`.
  private var liveServerId: UInt32?
  /// The server id, once welcomed.
  private var welcomedServerId: UInt32?
  /// Highest sequence submitted for commit (dedupe of what is still in flight).
  private var submitted: UInt64 = 0
  /// Highest sequence a gap notice of this connection covered (a jump to just past it is expected).
  private var noticedThrough: UInt64 = 0
  private var pendingBatches = 0
  /// Events of this connection submitted and not yet committed (the read-ahead window).
  private var pendingEvents = 0
  /// Snapshot chunks (and their records) handed to the reconciler and not yet taken
  /// by its sweep: they count in the same read window (docs/reconciliation.md).
  private var snapshotChunksHeld = 0
  private var snapshotRecordsHeld = 0
  private var readHeld = false
  private var draining = false
  /// This connection's registration with the reconciler.
  private var reconcilerRegistration: UInt64?
  /// Commands written to this plugin and not yet answered.
  private var commandsInFlight: Set<UInt64> = []
  static let maxCommandsInFlight = 4096
  /// Results for commands this connection did not send: legitimate (a command that
  /// finished while the plugin reconnected is answered on the next connection), so they
  /// are recorded, but at most ``maxCommandsInFlight`` of them per connection, so a
  /// plugin cannot make the collector read the ledger without bound.
  private var unsolicitedResults = 0
  /// Whether this connection counts in `environment.handshaking`.
  private var holdsHandshakeSlot = false
  private let peer: String
  /// This connection's identity at the group committer: once one of its commits
  /// fails, its later batches are never committed (no hole in the ledger).
  private let stream: UInt64

  /// This connection's frame payload limit: 4 KiB until the welcome (shared with its decoder).
  private let frameLimit: FramePayloadLimit
  /// `TRADETAP_STAGE_TRACE`: when this connection's bytes arrived (nil: off).
  private let stages: StageStamps?

  init(
    environment: ConnectionEnvironment, serverNonce: [UInt8], peer: String, frameLimit: FramePayloadLimit,
    stages: StageStamps? = nil
  ) throws {
    self.environment = environment
    self.stages = stages
    self.frameLimit = frameLimit
    self.stream = environment.committer.openStream()
    self.state = .handshaking(try ServerHandshake(serverNonce: serverNonce))
    var logger = environment.logger
    logger[metadataKey: "tradetap.peer"] = "\(peer)"
    self.logger = logger
    self.peer = peer
  }

  func channelActive(context: ChannelHandlerContext) {
    environment.metrics.connectionsOpen.add(1)
    // At most maxHandshakingConnections unauthenticated peers at once: one more is
    // refused at once, before any handshake work (bounded descriptors and memory).
    let inHandshake = environment.handshaking.wrappingAdd(1, ordering: .relaxed).newValue
    holdsHandshakeSlot = true
    guard inHandshake <= environment.configuration.maxHandshakingConnections else {
      releaseHandshakeSlot()
      environment.noteBusyRefusal(peer: peer)
      environment.metrics.recordRefusal(code: .serverBusy, beforeWelcome: true)
      state = .closing
      let channel = context.channel
      let busy = Message.error(ErrorMessage(code: .serverBusy, message: "too many connections in the handshake"))
      context.writeAndFlush(wrapOutboundOut(busy)).whenComplete { _ in channel.close(promise: nil) }
      context.fireChannelActive()
      return
    }
    // A peer must authenticate within the handshake timeout (three heartbeat intervals
    // by default). The idle handler alone cannot bound this: a peer dripping one byte
    // at a time is never idle (slowloris).
    let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
    let timeout = environment.configuration.handshakeTimeout ?? environment.configuration.heartbeatInterval * 3
    context.eventLoop.scheduleTask(in: timeout) {
      handler.value.handshakeDeadlinePassed(context: bound.value)
    }
    context.fireChannelActive()
  }

  private func releaseHandshakeSlot() {
    guard holdsHandshakeSlot else { return }
    holdsHandshakeSlot = false
    environment.handshaking.wrappingSubtract(1, ordering: .relaxed)
  }

  private func handshakeDeadlinePassed(context: ChannelHandlerContext) {
    guard case .handshaking = state, context.channel.isActive else { return }
    refuse(context: context, protocolViolation("handshake not completed within the handshake timeout"),
           reason: "handshake timeout")
  }

  func channelInactive(context: ChannelHandlerContext) {
    releaseHandshakeSlot()
    environment.metrics.connectionsOpen.add(-1)
    if let serverId = welcomedServerId {
      if case .streaming = state { logger.info("plugin disconnected") }
      if let id = reconcilerRegistration { environment.reconciler.disconnected(serverId: serverId, connection: id) }
      environment.commands.disconnected(serverId: serverId, connection: stream)
    }
    leaveLive()
    state = .closing
    context.fireChannelInactive()
  }

  // MARK: - One live connection per server id

  /// Takes `serverId` for this connection (the rule: ``LiveConnections``); false
  /// when refused (the refusal is already on its way).
  private func claimLive(context: ChannelHandlerContext, serverId: UInt32) -> Bool {
    let entry = LiveConnections.Entry(connection: stream, channel: context.channel, liveness: liveness)
    let staleAfter = environment.configuration.heartbeatInterval * 2
    switch environment.live.claim(serverId: serverId, entry, staleAfter: staleAfter) {
    case .claimed:
      liveServerId = serverId
      return true
    case .replacing(let incumbent, let silentFor):
      liveServerId = serverId
      logger.warning("replacing a connection of this server silent for \(silentFor.nanoseconds / 1_000_000) ms")
      incumbent.pipeline.fireUserInboundEventTriggered(LiveConnectionEvent.replaced(silentFor: silentFor))
      return true
    case .alreadyConnected(let incumbent):
      incumbent.pipeline.fireUserInboundEventTriggered(LiveConnectionEvent.probe)
      refuse(context: context, .error(ErrorMessage(
        code: .alreadyConnected, message: "server id \(serverId) already has a live connection; retry later")),
        reason: "handshake refused")
      return false
    }
  }

  /// Gives this connection's server id up, at close or as soon as it is refused, so
  /// a reconnecting plugin is never refused for a connection already closing.
  private func leaveLive() {
    guard let serverId = liveServerId else { return }
    liveServerId = nil
    // Replaced by a newer connection: that one owns the server's state now.
    guard environment.live.release(serverId: serverId, connection: stream), welcomedServerId != nil else { return }
    environment.metrics.recordDisconnected(serverId: serverId)
    let ledger = environment.ledger
    NIOThreadPool.singleton.submit { _ in try? ledger.recordDisconnection(serverId: serverId) }
  }

  // MARK: - Inbound

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let message = unwrapInboundIn(data)
    liveness.heard()
    // Shutting down: nothing new is taken (the plugin resends it to the next collector).
    if draining { return }
    switch state {
    case .handshaking(var handshake):
      do {
        let step = try environment.replayGuard.withLock { guardState in
          try handshake.receive(
            message, secrets: { self.environment.configuration.secrets[$0] }, replayGuard: &guardState)
        }
        state = .handshaking(handshake)
        switch step {
        case .send(let reply):
          context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        case .authenticated(let serverId):
          releaseHandshakeSlot()
          guard claimLive(context: context, serverId: serverId) else { return }
          state = .lookingUpResumePoint
          welcome(context: context, serverId: serverId, handshake: handshake)
        }
      } catch HandshakeError.rejected(let code, let text) {
        // The peer's own error frame: logged escaped, counted under one label, not answered.
        closeOnPeerError(context: context, code: code, text: text)
      } catch HandshakeError.unknownServerId(let id) {
        // Answered exactly as a wrong secret; only this log line tells them apart.
        refuse(context: context, HandshakeError.unknownServerId(id).errorMessage,
               reason: "handshake refused (unknown server id \(id))")
      } catch let error as HandshakeError {
        refuse(context: context, error.errorMessage, reason: "handshake refused")
      } catch {
        refuse(context: context, .error(ErrorMessage(code: .internalError, message: "\(error)")), reason: "handshake failed")
      }
    case .lookingUpResumePoint:
      refuse(context: context, protocolViolation("\(message.type) before welcome"), reason: "protocol violation")
    case .streaming(let serverId):
      stream(context: context, serverId: serverId, message: message)
    case .closing:
      break
    }
  }

  private func welcome(context: ChannelHandlerContext, serverId: UInt32, handshake: ServerHandshake) {
    let ledger = environment.ledger
    let heartbeat = UInt32(clamping: environment.configuration.heartbeatInterval.nanoseconds / 1_000_000)
    logger[metadataKey: "tradetap.server_id"] = "\(serverId)"
    // Callbacks of this future run on the channel's event loop, where handler and context live.
    let bound = NIOLoopBound((handler: self, context: context, handshake: handshake), eventLoop: context.eventLoop)
    // The hello's server identity (name, platform, UTC offset) fills the `servers` row.
    let identity = handshake.authenticatedServerIdentity
    // Reading the resume point blocks on SQLite: off the event loop.
    NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
      try ledger.recordConnection(
        serverId: serverId, name: identity?.name, platform: identity.map { Int($0.platform) },
        utcOffsetMinutes: identity?.utcOffsetMinutes)
      return try ledger.durableSequence(serverId: serverId)
    }.whenComplete { result in
      var (handler, context, handshake) = bound.value
      handler.completeWelcome(context: context, serverId: serverId, handshake: &handshake, heartbeat: heartbeat, result: result)
    }
  }

  private func completeWelcome(
    context: ChannelHandlerContext, serverId: UInt32, handshake: inout ServerHandshake, heartbeat: UInt32,
    result: Result<UInt64, Error>
  ) {
    guard case .lookingUpResumePoint = state else { return }
    do {
      let durable = try result.get()
      let welcome = try handshake.makeWelcome(lastDurableSequence: durable, heartbeatMillis: heartbeat)
      acknowledged = durable
      ackWritten = durable
      submitted = durable
      state = .streaming(serverId: serverId)
      welcomedServerId = serverId
      frameLimit.raiseAfterWelcome()
      environment.metrics.recordConnected(serverId: serverId, durable: durable)
      logger.info("plugin authenticated", metadata: ["tradetap.resume_after": "\(durable)"])
      context.writeAndFlush(wrapOutboundOut(welcome), promise: nil)
      reconcilerRegistration = environment.reconciler.connected(serverId: serverId, channel: context.channel)
      environment.commands.connected(serverId: serverId, connection: stream, channel: context.channel)
    } catch {
      refuse(context: context, .error(ErrorMessage(code: .internalError, message: "ledger unavailable")),
             reason: "resume point lookup failed: \(error)")
    }
  }

  private func stream(context: ChannelHandlerContext, serverId: UInt32, message: Message) {
    switch message {
    case .eventBatch(let batch):
      environment.metrics.recordReceived(serverId: serverId, events: batch.events.count)
      guard batch.events.allSatisfy({ $0.serverId == serverId }) else {
        refuse(context: context, protocolViolation("event of another server id"), reason: "protocol violation")
        return
      }
      // Already durable or already on its way: acknowledged, never re-applied.
      let fresh = batch.events.filter { $0.sequence > submitted }
      environment.metrics.eventsDuplicate.add(batch.events.count - fresh.count)
      guard let first = fresh.first?.sequence, let last = fresh.last?.sequence else {
        // One cumulative ack per read burst, however many duplicates it held.
        if pendingBatches == 0 { ackOwed = true }
        return
      }
      if let problem = sequenceClaimProblem(first: first, last: last) ?? gapBodyProblem(fresh) {
        refuse(context: context, protocolViolation(problem), reason: "sequence claim refused")
        return
      }
      if first > max(submitted, noticedThrough) + 1 {
        // Plausible: committed, and the ledger records submitted+1 ... first-1 as a
        // `not received` gap (never a silent move of the durable point).
        logger.warning("batch jumps past the durable point: sequences not received are recorded as a gap", metadata: [
          "tradetap.first_seq": "\(submitted + 1)", "tradetap.last_seq": "\(first - 1)",
        ])
      }
      submitted = last
      let decodedAt = stages == nil ? 0 : DeliveryLatency.monotonicNanoseconds()
      environment.metrics.recordDecoded(serverId: serverId, events: fresh)
      if let stages {
        StageTrace.shared?.batch(
          firstSequence: first, events: fresh.count, stamps: stages, decoded: decodedAt,
          recorded: DeliveryLatency.monotonicNanoseconds())
      }
      let encoded = environment.configuration.storeEncodedEvents ? fresh.map(EventCodec.encode) : []
      submit(context: context, serverId: serverId,
             batch: LedgerBatch(serverId: serverId, events: fresh, encodedEvents: encoded), gaps: [])
    case .heartbeat(let beat):
      // A flood of heartbeats earns one echo per interval, and none while unwritable
      // (liveness needs no more: the idle handler sends ours when we are quiet).
      let now = NIODeadline.now()
      guard now - lastEcho >= Self.heartbeatEchoInterval, context.channel.isWritable else { return }
      lastEcho = now
      context.writeAndFlush(wrapOutboundOut(.heartbeat(beat)), promise: nil)
    case .gapNotice(let notice):
      guard notice.count > 0, notice.firstSequence > 0 else {
        refuse(context: context, protocolViolation("gap notice of zero sequence numbers or at sequence 0"),
               reason: "protocol violation")
        return
      }
      let (last, overflow) = notice.firstSequence.addingReportingOverflow(notice.count - 1)
      if let problem = overflow
        ? "gap notice from \(notice.firstSequence) of \(notice.count) sequence numbers runs past 2^64"
        : last > submitted ? sequenceClaimProblem(first: last, last: last) : nil  // its reach
      {
        refuse(context: context, protocolViolation(problem), reason: "sequence claim refused")
        return
      }
      noticedThrough = max(noticedThrough, last)
      logger.warning("plugin reported a gap", metadata: [
        "tradetap.first_seq": "\(notice.firstSequence)", "tradetap.last_seq": "\(last)",
        "tradetap.reason": "\(notice.reason)",
      ])
      let gap = ReportedGap(serverId: serverId, firstSequence: notice.firstSequence, lastSequence: last,
                            reason: "reported by plugin: \(notice.reason)")
      submit(context: context, serverId: serverId, batch: nil, gaps: [gap])
    case .snapshotChunk(let chunk):
      // Everything received before the chunk is submitted; the first chunk's value is the snapshot's point.
      // The chunk counts in the read window until the sweep has taken it.
      let records = chunk.records.count
      snapshotChunksHeld += 1
      snapshotRecordsHeld += records
      let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
      let loop = context.eventLoop
      environment.reconciler.receive(chunk, serverId: serverId, caughtUpThrough: submitted) {
        loop.execute {
          let (handler, context) = bound.value
          handler.snapshotChunksHeld -= 1
          handler.snapshotRecordsHeld -= records
          handler.releaseReadIfHeld(context: context)
        }
      }
    case .commandResult(let result):
      if commandsInFlight.remove(result.commandId) == nil {
        unsolicitedResults += 1
        guard unsolicitedResults <= Self.maxCommandsInFlight else {
          refuse(context: context, protocolViolation("more than \(Self.maxCommandsInFlight) results of commands this connection did not send"),
                 reason: "protocol violation")
          return
        }
      }
      let commands = environment.commands
      Task { await commands.received(result, serverId: serverId) }
    case .error(let error):
      logger.info("plugin closed with an error", metadata: [
        "tradetap.error_code": "\(error.code.rawValue)", "tradetap.error": "\(PeerText.loggable(error.message))",
      ])
      state = .closing
      leaveLive()
      context.close(promise: nil)
    default:
      refuse(context: context, protocolViolation("unexpected \(message.type) after welcome"), reason: "protocol violation")
    }
  }

  private func submit(context: ChannelHandlerContext, serverId: UInt32, batch: LedgerBatch?, gaps: [ReportedGap]) {
    let promise = context.eventLoop.makePromise(of: LedgerCommit.self)
    let events = batch?.events.count ?? 0
    pendingBatches += 1
    pendingEvents += events
    environment.committer.submit(.init(batch: batch, reportedGaps: gaps, promise: promise, stream: stream))
    let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
    promise.futureResult.whenComplete { result in
      let (handler, context) = bound.value
      handler.completeSubmission(context: context, serverId: serverId, events: events, result: result)
    }
  }

  private func completeSubmission(
    context: ChannelHandlerContext, serverId: UInt32, events: Int, result: Result<LedgerCommit, Error>
  ) {
    pendingBatches -= 1
    pendingEvents -= events
    switch result {
    case .success(let commit):
      if let durable = commit.durableSequence[serverId] { oweAck(context: context, through: durable) }
      if commit.gapsRecorded > 0 { environment.reconciler.gapRecorded(serverId: serverId) }
      releaseReadIfHeld(context: context)
    case .failure(GroupCommitter.Failure.stopped):
      refuse(context: context, .error(ErrorMessage(code: .serverBusy, message: "collector shutting down")),
             reason: "shutting down")
    case .failure(let error):
      refuse(context: context, .error(ErrorMessage(code: .internalError, message: "ledger commit failed")),
             reason: "ledger commit failed: \(error)")
    }
  }

  /// Everything through `sequence` is durable: owe the peer an ack, written now if
  /// the channel is writable (else coalesced with later ones until it drains).
  private func oweAck(context: ChannelHandlerContext, through sequence: UInt64) {
    guard case .streaming = state, sequence >= acknowledged else { return }
    acknowledged = sequence
    ackOwed = true
    writeOwedAck(context: context)
  }

  /// Writes the owed ack, if any; `force` writes it even when unwritable (shutdown:
  /// the last acks must go out before the half-close).
  private func writeOwedAck(context: ChannelHandlerContext, force: Bool = false) {
    guard ackOwed, case .streaming = state, force || context.channel.isWritable else { return }
    ackOwed = false
    environment.metrics.eventsAcked.add(Int(truncatingIfNeeded: acknowledged - min(ackWritten, acknowledged)))
    ackWritten = max(ackWritten, acknowledged)
    environment.metrics.acksSent.add(1)
    context.writeAndFlush(wrapOutboundOut(.ack(Ack(throughSequence: acknowledged))), promise: nil)
  }

  // MARK: - Sequence claims

  /// Why fresh sequences `first...last` (first > submitted) are refused, or nil.
  /// Bounds: at most ``CollectorConfiguration/maxSequenceJump`` past the durable
  /// point, and within the ledger's range (a signed 64-bit column). Overflow-free.
  private func sequenceClaimProblem(first: UInt64, last: UInt64) -> String? {
    if last > UInt64(Int64.max) {
      return "sequence \(last) is beyond the ledger's range (2^63 - 1)"
    }
    let jump = first - submitted - 1  // first > submitted: no underflow
    if jump > environment.configuration.maxSequenceJump {
      return "sequence \(first) is \(jump) past the durable point \(submitted) + 1 (at most \(environment.configuration.maxSequenceJump))"
    }
    return nil
  }

  /// Why a gap event's range (`firstSequence`, `count`) cannot be stored, or nil.
  private func gapBodyProblem(_ events: [Event]) -> String? {
    for event in events {
      guard case .gap(let gap) = event.body else { continue }
      let (last, overflow) = gap.firstSequence.addingReportingOverflow(max(gap.count, 1) - 1)
      if overflow || last > UInt64(Int64.max) {
        return "gap event at \(event.sequence) names sequences beyond the ledger's range"
      }
    }
    return nil
  }

  // MARK: - Liveness and back-pressure

  func channelReadComplete(context: ChannelHandlerContext) {
    writeOwedAck(context: context)  // the burst's duplicates, acknowledged once
    context.fireChannelReadComplete()
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable {
      writeOwedAck(context: context)
      releaseReadIfHeld(context: context)
    }
    context.fireChannelWritabilityChanged()
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let live = event as? LiveConnectionEvent {
      switch live {
      case .replaced(let silentFor):
        refuse(context: context, .error(ErrorMessage(
          code: .alreadyConnected, message: "replaced by a newer connection of this server id")),
          reason: "replaced after \(silentFor.nanoseconds / 1_000_000) ms of silence")
      case .probe:
        if case .streaming = state, context.channel.isWritable {
          let now = UInt64(NIODeadline.now().uptimeNanoseconds)
          context.writeAndFlush(wrapOutboundOut(.heartbeat(Heartbeat(timestampNanos: now))), promise: nil)
        }
      }
      return
    }
    if let delivery = event as? CommandDeliveryEvent {
      guard case .streaming = state, case .send(let commands) = delivery else { return }
      var wrote = false
      for command in commands where commandsInFlight.count < Self.maxCommandsInFlight {
        guard commandsInFlight.insert(UInt64(bitPattern: command.id)).inserted else { continue }
        context.write(wrapOutboundOut(.command(CommandMessage(command))), promise: nil)
        wrote = true
      }
      if wrote { context.flush() }
      return
    }
    if let shutdown = event as? CollectorShutdownEvent {
      switch shutdown {
      case .stopIntake:
        draining = true
      case .finish:
        // The acks of everything committed were queued before this event. Half-close so
        // they reach the peer, keep reading (and discarding) until it closes: closing
        // with unread input would reset the connection and could destroy the acks.
        writeOwedAck(context: context, force: true)
        state = .closing
        leaveLive()
        if readHeld { readHeld = false; context.read() }
        let channel = context.channel
        context.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
      }
      return
    }
    guard let idle = event as? IdleStateHandler.IdleStateEvent else {
      context.fireUserInboundEventTriggered(event)
      return
    }
    switch idle {
    case .read:
      logger.info("peer silent for three heartbeat intervals: closing")
      state = .closing
      leaveLive()
      context.close(promise: nil)
    case .write:
      if case .streaming = state, context.channel.isWritable {
        let now = UInt64(NIODeadline.now().uptimeNanoseconds)
        context.writeAndFlush(wrapOutboundOut(.heartbeat(Heartbeat(timestampNanos: now))), promise: nil)
      }
    case .all:
      break
    }
  }

  func read(context: ChannelHandlerContext) {
    if mustHoldReads(context: context) {
      readHeld = true
    } else {
      context.read()
    }
  }

  private func releaseReadIfHeld(context: ChannelHandlerContext) {
    if readHeld, !mustHoldReads(context: context) {
      readHeld = false
      context.read()
    }
  }

  /// Reading stops while the ledger is behind (the window) or the peer is not
  /// reading what we write (unwritable): either way this connection waits, alone.
  /// Shutting down or closing, reading goes on (input is discarded until EOF).
  private func mustHoldReads(context: ChannelHandlerContext) -> Bool {
    if draining { return false }
    if case .closing = state { return false }
    let waitingForLedger = windowIsFull
    liveness.waitingForLedger.store(waitingForLedger, ordering: .relaxed)
    return waitingForLedger || !context.channel.isWritable
  }

  /// Back-pressure: decoding may run ahead of SQLite by this many events and
  /// submissions, no further (bounded memory; the peer's TCP window then fills).
  private var windowIsFull: Bool {
    pendingEvents + snapshotRecordsHeld >= environment.configuration.maxPendingEventsPerConnection
      || pendingBatches + snapshotChunksHeld >= environment.configuration.maxPendingBatchesPerConnection
  }

  // MARK: - Errors

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    switch error {
    case let error as FrameDecodingError:
      refuse(context: context, .error(ErrorMessage(code: error.errorCode, message: "\(error)")), reason: "bad frame")
    case let error as MessageDecodingError:
      refuse(context: context, .error(ErrorMessage(code: error.errorCode, message: "\(error)")), reason: "bad message")
    case is ByteToMessageDecoderError:
      break  // after a decoding error, already closing
    default:
      // TLS and socket errors: no frame can get through; just close.
      if case .closing = state { return }
      logRefusal("connection error: closing", ["tradetap.error": "\(PeerText.loggable("\(error)"))"])
      environment.metrics.recordRefusal(code: nil, beforeWelcome: !isStreaming)
      state = .closing
      leaveLive()
      context.close(promise: nil)
    }
  }

  private var isStreaming: Bool {
    if case .streaming = state { return true }
    return false
  }

  private func protocolViolation(_ text: String) -> Message {
    .error(ErrorMessage(code: .protocolViolation, message: text))
  }

  /// Sends the error frame, logs one line (rate-limited), closes this connection only.
  private func refuse(context: ChannelHandlerContext, _ message: Message, reason: String) {
    if case .closing = state { return }
    let code: ErrorCode? = if case .error(let e) = message { e.code } else { nil }
    environment.metrics.recordRefusal(code: code, beforeWelcome: !isStreaming)
    state = .closing
    leaveLive()
    if case .error(let e) = message {
      logRefusal("\(reason): closing", [
        "tradetap.error_code": "\(e.code)", "tradetap.error": "\(PeerText.loggable(e.message))",
      ])
    }
    let channel = context.channel
    context.writeAndFlush(wrapOutboundOut(message)).whenComplete { _ in channel.close(promise: nil) }
    // A peer that does not read may never let the frame out: close regardless.
    context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
  }

  /// The peer ended the handshake with its own error frame: one escaped, truncated,
  /// rate-limited line; one fixed metrics label whatever its code; no answer.
  private func closeOnPeerError(context: ChannelHandlerContext, code: ErrorCode, text: String) {
    if case .closing = state { return }
    environment.metrics.recordRefusal(.peerError, beforeWelcome: true)
    state = .closing
    logRefusal("peer closed the handshake with an error: closing", [
      "tradetap.error_code": "\(code.rawValue)", "tradetap.error": "\(PeerText.loggable(text))",
    ])
    context.close(promise: nil)
  }

  /// One refusal line, unless over the collector-wide rate (then only counted).
  private func logRefusal(_ message: Logger.Message, _ metadata: Logger.Metadata) {
    guard let notLogged = environment.refusalLog.admit() else { return }
    var metadata = metadata
    if notLogged > 0 { metadata["tradetap.refusals_not_logged"] = "\(notLogged)" }
    logger.info(message, metadata: metadata)
  }
}
