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
      interval: configuration.reconcileInterval, ledger: ledger, metrics: metrics.reconciliation, logger: logger)
  }

  deinit { reconciler.stop() }
}

/// Sent down every plugin connection's pipeline by a graceful shutdown.
enum CollectorShutdownEvent: Sendable {
  /// Take no new batches; the ones already submitted still commit and get acked.
  case stopIntake
  /// Every commit is done and its ack queued: close.
  case finish
}

/// One plugin connection: handshake, then event batches → dedupe → group commit →
/// cumulative ack after the commit. Heartbeats are answered and sent when idle; a
/// peer silent for three intervals is dropped. Any failure sends a specific error
/// frame, logs one line and closes this connection only.
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
  /// Highest sequence acknowledged to this peer (its durable sequence).
  private var acknowledged: UInt64 = 0
  /// Highest sequence submitted for commit (dedupe of what is still in flight).
  private var submitted: UInt64 = 0
  private var pendingBatches = 0
  /// Events of this connection submitted and not yet committed (the read-ahead window).
  private var pendingEvents = 0
  private var readHeld = false
  private var draining = false
  /// This connection's registration with the reconciler.
  private var reconcilerRegistration: UInt64?
  /// Whether this connection counts in `environment.handshaking`.
  private var holdsHandshakeSlot = false
  private let peer: String
  /// This connection's identity at the group committer: once one of its commits
  /// fails, its later batches are never committed (no hole in the ledger).
  private let stream: UInt64

  init(environment: ConnectionEnvironment, serverNonce: [UInt8], peer: String) throws {
    self.environment = environment
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
    if case .streaming(let serverId) = state {
      logger.info("plugin disconnected")
      if let id = reconcilerRegistration { environment.reconciler.disconnected(serverId: serverId, connection: id) }
      environment.metrics.recordDisconnected(serverId: serverId)
      let ledger = environment.ledger
      NIOThreadPool.singleton.submit { _ in try? ledger.recordDisconnection(serverId: serverId) }
    }
    state = .closing
    context.fireChannelInactive()
  }

  // MARK: - Inbound

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let message = unwrapInboundIn(data)
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
          state = .lookingUpResumePoint
          welcome(context: context, serverId: serverId, handshake: handshake)
        }
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
      submitted = durable
      state = .streaming(serverId: serverId)
      environment.metrics.recordConnected(serverId: serverId, durable: durable)
      logger.info("plugin authenticated", metadata: ["tradetap.resume_after": "\(durable)"])
      context.writeAndFlush(wrapOutboundOut(welcome), promise: nil)
      reconcilerRegistration = environment.reconciler.connected(serverId: serverId, channel: context.channel)
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
      if fresh.isEmpty {
        if pendingBatches == 0 { sendAck(context: context, through: acknowledged) }
        return
      }
      submitted = fresh.last!.sequence
      environment.metrics.recordDecoded(serverId: serverId, events: fresh)
      let encoded = environment.configuration.storeEncodedEvents ? fresh.map(EventCodec.encode) : []
      submit(context: context, serverId: serverId,
             batch: LedgerBatch(serverId: serverId, events: fresh, encodedEvents: encoded), gaps: [])
    case .heartbeat(let beat):
      context.writeAndFlush(wrapOutboundOut(.heartbeat(beat)), promise: nil)
    case .gapNotice(let notice):
      guard notice.count > 0 else {
        refuse(context: context, protocolViolation("gap notice of zero sequence numbers"), reason: "protocol violation")
        return
      }
      let last = notice.firstSequence &+ notice.count &- 1
      logger.warning("plugin reported a gap", metadata: [
        "tradetap.first_seq": "\(notice.firstSequence)", "tradetap.last_seq": "\(last)",
        "tradetap.reason": "\(notice.reason)",
      ])
      let gap = ReportedGap(serverId: serverId, firstSequence: notice.firstSequence, lastSequence: last,
                            reason: "reported by plugin: \(notice.reason)")
      submit(context: context, serverId: serverId, batch: nil, gaps: [gap])
    case .snapshotChunk(let chunk):
      // Everything received before the chunk is submitted; the first chunk's value is the snapshot's point.
      environment.reconciler.receive(chunk, serverId: serverId, caughtUpThrough: submitted)
    case .error(let error):
      logger.info("plugin closed with an error", metadata: ["tradetap.error": "\(error.code): \(error.message)"])
      state = .closing
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
      if let durable = commit.durableSequence[serverId] { sendAck(context: context, through: durable) }
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

  private func sendAck(context: ChannelHandlerContext, through sequence: UInt64) {
    guard case .streaming = state, sequence >= acknowledged else { return }
    environment.metrics.eventsAcked.add(Int(truncatingIfNeeded: sequence - acknowledged))
    acknowledged = sequence
    environment.metrics.acksSent.add(1)
    context.writeAndFlush(wrapOutboundOut(.ack(Ack(throughSequence: sequence))), promise: nil)
  }

  // MARK: - Liveness and back-pressure

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let shutdown = event as? CollectorShutdownEvent {
      switch shutdown {
      case .stopIntake:
        draining = true
      case .finish:
        // The acks of everything committed were queued before this event. Half-close so
        // they reach the peer, keep reading (and discarding) until it closes: closing
        // with unread input would reset the connection and could destroy the acks.
        state = .closing
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
      context.close(promise: nil)
    case .write:
      if case .streaming = state {
        let now = UInt64(NIODeadline.now().uptimeNanoseconds)
        context.writeAndFlush(wrapOutboundOut(.heartbeat(Heartbeat(timestampNanos: now))), promise: nil)
      }
    case .all:
      break
    }
  }

  func read(context: ChannelHandlerContext) {
    if !draining, windowIsFull {
      readHeld = true
    } else {
      context.read()
    }
  }

  private func releaseReadIfHeld(context: ChannelHandlerContext) {
    if readHeld, !windowIsFull {
      readHeld = false
      context.read()
    }
  }

  /// Back-pressure: decoding may run ahead of SQLite by this many events and
  /// submissions, no further (bounded memory; the peer's TCP window then fills).
  private var windowIsFull: Bool {
    pendingEvents >= environment.configuration.maxPendingEventsPerConnection
      || pendingBatches >= environment.configuration.maxPendingBatchesPerConnection
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
      logger.info("connection error: closing", metadata: ["tradetap.error": "\(error)"])
      environment.metrics.recordRefusal(code: nil, beforeWelcome: !isStreaming)
      state = .closing
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

  /// Sends the error frame, logs one line, closes this connection only.
  private func refuse(context: ChannelHandlerContext, _ message: Message, reason: String) {
    if case .closing = state { return }
    let code: ErrorCode? = if case .error(let e) = message { e.code } else { nil }
    environment.metrics.recordRefusal(code: code, beforeWelcome: !isStreaming)
    state = .closing
    if case .error(let e) = message {
      logger.info("\(reason): closing", metadata: ["tradetap.error_code": "\(e.code)", "tradetap.error": "\(e.message)"])
    }
    let channel = context.channel
    context.writeAndFlush(wrapOutboundOut(message)).whenComplete { _ in channel.close(promise: nil) }
  }
}
