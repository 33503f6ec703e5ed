import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import TradeTapLedger
import TradeTapWire

/// A running collector: the framed-protocol listener for plugins, the HTTP listener,
/// the ledger and its group-commit writer.
///
/// Assembled by ``start(configuration:logger:)``, which the command line and the
/// tests both call (tests on port 0). As a `Service` it runs until a graceful
/// shutdown (SIGTERM in a `ServiceGroup`), then stops accepting, commits what it
/// received, acknowledges it and closes every connection.
public final class Collector: Service, Sendable {
  /// Where plugins connect (the chosen port when 0 was asked for).
  public let protocolAddress: SocketAddress
  /// Where the HTTP API listens, if enabled.
  public let httpAddress: SocketAddress?
  /// ``protocolAddress`` as `HOST:PORT` (`[HOST]:PORT` for IPv6).
  public var protocolEndpoint: String { Self.endpoint(protocolAddress) }
  /// ``httpAddress`` as `HOST:PORT`, if enabled.
  public var httpEndpoint: String? { httpAddress.map(Self.endpoint) }
  /// The ledger this collector writes (SQLite or PostgreSQL, from the database URL).
  public let ledger: any LedgerStore
  public let metrics: CollectorMetrics

  private let serverChannel: Channel
  private let httpServer: CRMAPIServer?
  private let committer: GroupCommitter
  /// The change feed pushed out (docs/outputs.md).
  private let outputs: Outputs
  /// Each output's name (`GET /v1/outputs`), in the order they were configured.
  public var outputNames: [String] { outputs.services.map(\.name) }
  private let connections: ConnectionRegistry
  /// The gateway cross-check's schedule (`--gateway-match-every`), stopped before the ledger closes.
  private let gatewayCheck: GatewayCrossChecker
  private let logger: Logger
  private let stopped = Mutex(false)

  /// Opens the ledger, binds both listeners and starts serving.
  /// - Parameters:
  ///   - configuration: addresses, database, secrets, TLS, limits.
  ///   - logger: the collector logs under it with `tradetap.*` metadata.
  /// - Returns: the running collector; call ``shutdown()`` (or `run()` in a group) to stop.
  /// - Throws: ``CollectorError`` for a secret under 16 bytes or bad TLS files; ledger and bind errors.
  public static func start(configuration: CollectorConfiguration, logger: Logger) async throws -> Collector {
    // A short secret is a guessable HMAC key: refused before anything is opened.
    if let (serverId, secret) = configuration.secrets.sorted(by: { $0.key < $1.key })
      .first(where: { $0.value.count < CollectorConfiguration.minimumSecretLength })
    {
      throw CollectorError.weakSecret(serverId: serverId, length: secret.count)
    }
    if configuration.tls == nil {
      guard LoopbackHost.contains(configuration.listenHost) || configuration.allowInsecurePlaintext else {
        throw CollectorError.plaintextOffLoopback(configuration.listenHost)
      }
      logger.warning("TLS is off (--no-tls): plugins' events and handshakes travel unencrypted to \(configuration.listenHost)\(LoopbackHost.contains(configuration.listenHost) ? "" : ", which is not loopback (--allow-insecure-no-tls)")")
    }
    let files = FileLimit.raiseSoftToHard()
    let (httpCap, httpCapLowered) = FileLimit.httpConnectionCap(asked: configuration.httpMaxConnections, limit: files.now)
    if httpCapLowered {
      logger.warning("HTTP connections capped at \(httpCap), not \(configuration.httpMaxConnections ?? FileLimit.defaultHTTPConnections): the open-file limit is \(files.now) (ulimit -n), and half of it less \(FileLimit.reserve) stays for the plugin port")
    }
    let sslContext = try configuration.tls.map(makeTLSContext)
    let ledger = try await LedgerBackend.open(configuration, logger: logger)
    let metrics = CollectorMetrics(serverLimit: max(1, configuration.secrets.count))
    let committer = GroupCommitter(
      ledger: ledger, metrics: metrics, logger: logger, maxEventsPerCommit: configuration.maxEventsPerCommit)
    committer.start()
    let environment = ConnectionEnvironment(
      configuration: configuration, ledger: ledger, committer: committer, metrics: metrics, logger: logger)
    environment.commands.start()
    let connections = ConnectionRegistry()
    let group = MultiThreadedEventLoopGroup.singleton

    let heartbeat = configuration.heartbeatInterval
    let serverChannel: Channel
    do {
      serverChannel = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelOption(.maxMessagesPerRead, value: 16)
        // Above 64 KiB of unsent output a connection is unwritable, and the handler
        // stops reading it until it drains (a peer that never reads cannot grow it).
        .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
        .childChannelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            connections.add(channel)
            var nonce = [UInt8](repeating: 0, count: 32)
            var random = SystemRandomNumberGenerator()
            for i in nonce.indices { nonce[i] = random.next() }
            let peer = channel.remoteAddress.map { "\($0)" } ?? "unknown"
            let sync = channel.pipeline.syncOperations
            // TRADETAP_STAGE_TRACE (a diagnostic): stamp reads before and after TLS.
            let stages = StageTrace.shared == nil ? nil : StageStamps()
            if let stages { try sync.addHandler(StageStampHandler(stages, at: .raw)) }
            if let sslContext { try sync.addHandler(NIOSSLServerHandler(context: sslContext)) }
            if let stages { try sync.addHandler(StageStampHandler(stages, at: .decrypted)) }
            try sync.addHandler(IdleStateHandler(readTimeout: heartbeat * 3, writeTimeout: heartbeat))
            let frameLimit = FramePayloadLimit()
            try sync.addHandler(ByteToMessageHandler(WireMessageDecoder(limit: frameLimit)))
            try sync.addHandler(MessageToByteHandler(WireMessageEncoder()))
            try sync.addHandler(PluginConnectionHandler(
              environment: environment, serverNonce: nonce, peer: peer, frameLimit: frameLimit, stages: stages))
          }
        }
        .bind(host: configuration.listenHost, port: configuration.listenPort).get()
    } catch {
      await committer.drainAndStop()
      throw error
    }

    let outputs = Outputs.make(configuration, ledger: ledger, metrics: metrics, logger: logger)
    do { try await outputs.fix?.start() } catch {
      try? await serverChannel.close()
      await committer.drainAndStop()
      await outputs.stop()
      throw error
    }
    var httpServer: CRMAPIServer? = nil
    if let httpPort = configuration.httpPort {
      do {
        httpServer = try await CRMAPIServer.start(
          host: configuration.httpHost, port: httpPort,
          limits: HTTPConnectionLimits(
            maxConnections: httpCap, requestReadTimeout: configuration.httpRequestReadTimeout,
            idleTimeout: configuration.httpIdleTimeout),
          group: group, ledger: ledger,
          apiToken: configuration.apiToken, metricsText: { metrics.prometheusText() },
          lagSeconds: { metrics.lagSeconds() },
          applyHeldSweep: { try await environment.reconciler.apply(sweepId: $0) },
          writeToken: configuration.apiWriteToken, maxOperationAmount: configuration.maxOperationAmount,
          commandAccepted: { environment.commands.accepted(serverId: $0) }, outputs: outputs, metrics: metrics,
          logger: logger)
      } catch {
        try? await serverChannel.close()
        await committer.drainAndStop()
        await outputs.stop()
        throw error
      }
    }
    outputs.start()

    let collector = Collector(
      protocolAddress: serverChannel.localAddress!, httpAddress: httpServer?.address, ledger: ledger,
      metrics: metrics, serverChannel: serverChannel, httpServer: httpServer, committer: committer,
      connections: connections, outputs: outputs,
      gatewayCheck: GatewayCrossChecker(
        interval: configuration.gatewayMatchInterval, grace: configuration.gatewayMatchGrace, ledger: ledger,
        metrics: metrics.reconciliation, logger: logger),
      logger: logger)
    logger.info("collector listening", metadata: [
      "tradetap.protocol": "\(collector.protocolEndpoint)", "tradetap.http": "\(collector.httpEndpoint ?? "off")",
      "tradetap.tls": "\(configuration.tls == nil ? "off" : "1.3")", "tradetap.database": "\(LedgerBackend.describe(configuration))",
      "tradetap.open_files": "\(files.now)\(files.now != files.before ? " (raised from \(files.before))" : "")",
      "tradetap.http_max_connections": "\(httpServer == nil ? 0 : httpCap)",
    ])
    return collector
  }

  private init(
    protocolAddress: SocketAddress, httpAddress: SocketAddress?, ledger: any LedgerStore, metrics: CollectorMetrics,
    serverChannel: Channel, httpServer: CRMAPIServer?, committer: GroupCommitter, connections: ConnectionRegistry,
    outputs: Outputs, gatewayCheck: GatewayCrossChecker, logger: Logger
  ) {
    self.gatewayCheck = gatewayCheck
    self.outputs = outputs
    self.protocolAddress = protocolAddress
    self.httpAddress = httpAddress
    self.ledger = ledger
    self.metrics = metrics
    self.serverChannel = serverChannel
    self.httpServer = httpServer
    self.committer = committer
    self.connections = connections
    self.logger = logger
  }

  /// Serves until graceful shutdown (or cancellation), then shuts down.
  public func run() async throws {
    try? await gracefulShutdown()
    await shutdown()
  }

  /// Stops accepting, commits every batch already received, lets the acks go out,
  /// then closes every connection. Safe to call more than once.
  public func shutdown() async {
    let first = stopped.withLock { wasStopped in
      defer { wasStopped = true }
      return !wasStopped
    }
    guard first else { return }
    logger.info("collector shutting down: stop accepting, commit, ack, close")
    try? await serverChannel.close()
    await httpServer?.stop()
    let open = connections.all()
    for channel in open { channel.pipeline.fireUserInboundEventTriggered(CollectorShutdownEvent.stopIntake) }
    await committer.drainAndStop()
    // Acks were queued on each channel's event loop when their commits completed;
    // the finish event queued now runs after them.
    for channel in open { channel.pipeline.fireUserInboundEventTriggered(CollectorShutdownEvent.finish) }
    for channel in open { try? await channel.closeFuture.get() }
    // After the last commit: an output delivers what is committed, up to the end.
    await outputs.stop()
    await gatewayCheck.stop()
    await ledger.close()
    logger.info("collector stopped")
  }

  static func endpoint(_ address: SocketAddress) -> String {
    let host = address.ipAddress ?? "?"
    let port = address.port ?? 0
    return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
  }

  private static func makeTLSContext(_ files: CollectorConfiguration.TLSFiles) throws -> NIOSSLContext {
    try tlsServerContext(files, minimumVersion: .tlsv13, keyFlag: "private key", certificateFlag: "")
  }

  /// A TLS server context from a certificate chain and a key file that passes the
  /// secrets' checks (the plugins' listener: TLS 1.3; the FIX acceptor: 1.2 or 1.3).
  /// `keyFlag` / `certificateFlag` name the files in errors (the flag that gave them).
  static func tlsServerContext(
    _ files: CollectorConfiguration.TLSFiles, minimumVersion: TLSVersion, keyFlag: String, certificateFlag: String
  ) throws -> NIOSSLContext {
    if let problem = PrivateFile.problem(path: files.privateKeyPath) {
      throw CollectorError.tls("\(keyFlag) \(files.privateKeyPath): \(problem)")
    }
    do {
      let chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
      let key = try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)
      var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
      tls.minimumTLSVersion = minimumVersion
      return try NIOSSLContext(configuration: tls)
    } catch {
      let certificate = certificateFlag.isEmpty ? files.certificatePath : "\(certificateFlag) \(files.certificatePath)"
      let key = certificateFlag.isEmpty ? files.privateKeyPath : "\(keyFlag) \(files.privateKeyPath)"
      throw CollectorError.tls("cannot load \(certificate) / \(key): \(error)")
    }
  }

}

/// The open plugin connections, so that shutdown can close them after the last acks.
final class ConnectionRegistry: Sendable {
  private let channels = Mutex<[ObjectIdentifier: Channel]>([:])

  func add(_ channel: Channel) {
    let id = ObjectIdentifier(channel)
    channels.withLock { $0[id] = channel }
    channel.closeFuture.whenComplete { _ in _ = self.channels.withLock { $0.removeValue(forKey: id) } }
  }

  func all() -> [Channel] { channels.withLock { Array($0.values) } }
}
