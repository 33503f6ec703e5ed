import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import TradeTapEvents
import TradeTapLedger

/// The collector's HTTP listener: Hummingbird 2 on the collector's own
/// `EventLoopGroup`, serving ``CRMRoutes`` behind the bearer token, within
/// ``HTTPConnectionLimits`` (a connection cap and read/idle deadlines).
final class CRMAPIServer: Sendable {
  /// Where it listens (the chosen port when 0 was asked for).
  let address: SocketAddress
  /// Open connections against the cap.
  let connections: HTTPConnectionCount
  private let services: ServiceGroup
  private let task: Task<Void, any Error>

  private init(address: SocketAddress, connections: HTTPConnectionCount, services: ServiceGroup, task: Task<Void, any Error>) {
    self.address = address
    self.connections = connections
    self.services = services
    self.task = task
  }

  /// Binds and starts serving; returns once the socket is bound.
  /// - Throws: the bind error when the address is taken or invalid.
  static func start(
    host: String, port: Int, limits: HTTPConnectionLimits, group: any EventLoopGroup, ledger: any LedgerStore,
    apiToken: [UInt8], metricsText: @escaping @Sendable () -> String,
    lagSeconds: @escaping @Sendable () -> [UInt32: Double?] = { [:] },
    applyHeldSweep: @escaping @Sendable (Int64) async throws -> ReconciliationOutcome = { throw HeldSweepError.unknownSweep($0) },
    writeToken: [UInt8] = [], maxOperationAmount: ExactDecimal = CollectorConfiguration.defaultMaxOperationAmount,
    commandAccepted: @escaping @Sendable (UInt32) -> Void = { _ in },
    outputs: Outputs = .none,
    metrics: CollectorMetrics? = nil,
    logger: Logger
  ) async throws -> CRMAPIServer {
    let router = Router()
    router.middlewares.add(SecurityHeadersMiddleware())
    router.middlewares.add(APIErrorMiddleware())
    router.middlewares.add(BearerAuthMiddleware(token: apiToken, writeToken: writeToken))
    var routes = CRMRoutes(queries: LedgerQueries(ledger: ledger), metricsText: metricsText)
    routes.lagSeconds = lagSeconds
    routes.applyHeldSweep = applyHeldSweep
    routes.commands = CommandRoutes(
      ledger: ledger, writeTokenId: writeToken.isEmpty ? nil : CommandRoutes.tokenId(writeToken),
      maxOperationAmount: maxOperationAmount, commandAccepted: commandAccepted)
    routes.outputs = OutputRoutes(outputs: outputs, ledger: ledger)
    routes.console = (
      ConsoleRoutes(),
      ConsoleStatus(queries: LedgerQueries(ledger: ledger), metrics: metrics, outputs: outputs, samples: StatusSamples())
    )
    if let metrics {
      let gauges = LedgerStateGauges(registry: metrics.registry), queries = LedgerQueries(ledger: ledger)
      routes.beforeMetrics = {
        if let rows = try? await queries.servers() { gauges.refresh(servers: rows, lags: metrics.lagSeconds()) }
      }
    }
    routes.register(on: router)

    let (bound, binding) = AsyncStream<SocketAddress>.makeStream()
    var quiet = logger
    if quiet.logLevel < .warning { quiet.logLevel = .warning }  // the collector logs the address itself
    let connections = HTTPConnectionCount(limit: limits.maxConnections)
    // Hummingbird's own idle timer stays off: HTTPReadDeadlineHandler runs both
    // deadlines, and a change stream is never idle while it is being answered.
    let server = HTTPServerBuilder { responder in
      GuardedHTTP1Channel(
        base: HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [HTTPExchangeWatcher()])),
        limits: limits, count: connections)
    }
    let app = Application(
      router: router,
      server: server,
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        if let address = channel.localAddress { binding.yield(address) }
        binding.finish()
      },
      eventLoopGroupProvider: .shared(group),
      logger: quiet)
    // Its own group, so that stop() can shut it down gracefully: open change
    // streams see the shutdown and end, idle keep-alive connections close.
    let services = ServiceGroup(configuration: .init(services: [app], logger: quiet))
    let task = Task {
      defer { binding.finish() }
      try await services.run()
    }
    var addresses = bound.makeAsyncIterator()
    guard let address = await addresses.next() else {
      task.cancel()
      try await task.value
      throw CancellationError()
    }
    return CRMAPIServer(address: address, connections: connections, services: services, task: task)
  }

  /// Stops listening and ends every open request, change streams included.
  func stop() async {
    await services.triggerGracefulShutdown()
    _ = try? await task.value
  }
}
