import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The FIX acceptor (`--fix-listen`): back offices connect and log on to one of the
/// sessions of `--fix-sessions` (docs/fix.md). A connection's trouble (garbage, a bad
/// Logon, a peer that stalls) closes that connection only.
final class FIXAcceptor: Sendable {
  let settings: FIXSettings
  let sessions: [FIXSession]
  private let logger: Logger
  private let channel = Mutex<(any Channel)?>(nil)
  /// How long a connection may take to send a complete Logon.
  static let logonTimeout: TimeAmount = .seconds(5)

  init(settings: FIXSettings, sessions: [FIXSession], logger: Logger) {
    self.settings = settings
    self.sessions = sessions
    self.logger = logger
  }

  /// The session a Logon from `sender` to `target` (the peer's 49 and 56) is for.
  func session(peerSender: String, peerTarget: String) -> FIXSession? {
    sessions.first { $0.settings.targetCompID == peerSender && $0.settings.senderCompID == peerTarget }
  }

  func start() async throws {
    let acceptor = self
    let tls = try settings.tls.map(Self.tlsContext)
    let bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.backlog, value: 64)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let sync = channel.pipeline.syncOperations
          if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
          try sync.addHandler(ByteToMessageHandler(FIXFrameDecoder()))
          try sync.addHandler(FIXConnectionHandler(acceptor: acceptor))
        }
      }
      .bind(host: settings.host, port: settings.port).get()
    channel.withLock { $0 = bound }
    logger.info("FIX acceptor listening", metadata: [
      "tradetap.fix": "\(bound.localAddress.map { "\($0)" } ?? "?")",
      "tradetap.fix_sessions": "\(sessions.map(\.settings.name).joined(separator: ","))",
      "tradetap.fix_tls": "\(settings.tls == nil ? "off" : "on")",
    ])
  }

  /// The acceptor's TLS: the key file passes the secrets' checks; TLS 1.2 or 1.3 (FIX
  /// engines such as QuickFIX 1.15 may not speak 1.3).
  static func tlsContext(_ files: CollectorConfiguration.TLSFiles) throws -> NIOSSLContext {
    try Collector.tlsServerContext(
      files, minimumVersion: .tlsv12, keyFlag: "--fix-tls-key", certificateFlag: "--fix-tls-cert")
  }


  var localPort: Int? { channel.withLock { $0?.localAddress?.port } }

  func stop() async {
    let bound = channel.withLock { $0 }
    try? await bound?.close()
  }

  var connectionLogger: Logger { logger }
}

/// One peer connection: its first message must be a Logon for a known session, within
/// ``FIXAcceptor/logonTimeout``; after that, every message goes to the session's loop.
final class FIXConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = FIXMessage
  private let acceptor: FIXAcceptor
  private var session: FIXSession?
  private let gate = FIXReadGate()
  private var logonTimer: Scheduled<Void>?
  private var closed = false

  init(acceptor: FIXAcceptor) { self.acceptor = acceptor }

  func channelActive(context: ChannelHandlerContext) {
    let channel = context.channel
    let logger = acceptor.connectionLogger
    logonTimer = context.eventLoop.scheduleTask(in: FIXAcceptor.logonTimeout) {
      logger.warning("FIX connection closed: no Logon within \(FIXAcceptor.logonTimeout)",
                     metadata: ["tradetap.peer": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
      channel.close(promise: nil)
    }
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !closed else { return }
    let message = unwrapInboundIn(data)
    let connection = FIXConnection(channel: context.channel, gate: gate)
    if let session {
      gate.handedOver(context.channel)
      session.submit(.message(connection, message))
      return
    }
    guard message.msgType == "A" else {
      refuse(context, "first message must be a Logon (35=A)", seq: message)
      return
    }
    guard let sender = message[FIXTag.senderCompID], let target = message[FIXTag.targetCompID],
      let found = acceptor.session(peerSender: sender, peerTarget: target)
    else {
      refuse(context, "unknown session: SenderCompID \(message[FIXTag.senderCompID] ?? "?") TargetCompID \(message[FIXTag.targetCompID] ?? "?")", seq: message)
      return
    }
    logonTimer?.cancel()
    session = found
    gate.handedOver(context.channel)
    found.submit(.logon(connection, message))
  }

  /// Logout with `reason` (MsgSeqNum 1: no session's numbers are touched) and close.
  private func refuse(_ context: ChannelHandlerContext, _ reason: String, seq message: FIXMessage?) {
    acceptor.connectionLogger.warning("FIX connection refused: \(reason)",
      metadata: ["tradetap.peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")"])
    let logout = FIXMessage([
      (FIXTag.msgType, "5"), (FIXTag.senderCompID, message?[FIXTag.targetCompID] ?? "TRADETAP"),
      (FIXTag.targetCompID, message?[FIXTag.senderCompID] ?? "UNKNOWN"), (FIXTag.msgSeqNum, "1"),
      (FIXTag.sendingTime, FIXTimeNow.fix()), (FIXTag.text, reason),
    ])
    var buffer = context.channel.allocator.buffer(capacity: 256)
    buffer.writeBytes(logout.encoded())
    let channel = context.channel
    context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    closed = true
  }

  typealias OutboundOut = ByteBuffer

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    guard !closed else { return }
    guard let decoding = error as? FIXDecodingError else {
      // Not the peer's bytes (a reset, a TLS close without close_notify): just close.
      acceptor.connectionLogger.info("FIX connection closed: \(error)",
        metadata: ["tradetap.peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")"])
      closed = true
      context.close(promise: nil)
      return
    }
    let reason = decoding.description
    if let session {
      closed = true
      session.submit(.garbled(FIXConnection(channel: context.channel, gate: gate), reason))
      // The session answers with a Logout and closes; this is the backstop.
      let channel = context.channel
      context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    } else {
      refuse(context, reason, seq: nil)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    logonTimer?.cancel()
    session?.submit(.closed(FIXConnection(channel: context.channel, gate: gate)))
    context.fireChannelInactive()
  }
}
