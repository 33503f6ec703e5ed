import AsyncHTTPClient
import Logging
import NIOCore
import NIOPosix
import TradeTapLedger

/// The collector's outputs (docs/outputs.md): one ``OutputService`` per destination,
/// started with the collector and stopped before its ledger closes.
final class Outputs: Sendable {
  let services: [OutputService]
  /// The webhooks' HTTP client (nil: no webhook).
  private let client: HTTPClient?
  /// The NATS outputs, closed once their services stopped.
  private let nats: [NATSOutput]
  /// The FIX drop copy acceptor (docs/fix.md), listening once started; nil: none.
  let fix: FIXAcceptor?

  static let none = Outputs(services: [], client: nil, nats: [])

  private init(services: [OutputService], client: HTTPClient?, nats: [NATSOutput], fix: FIXAcceptor? = nil) {
    self.services = services
    self.client = client
    self.nats = nats
    self.fix = fix
  }

  /// The outputs `configuration` names, not yet started.
  static func make(
    _ configuration: CollectorConfiguration, ledger: any LedgerStore, metrics: CollectorMetrics, logger: Logger
  ) -> Outputs {
    var nats: [NATSOutput] = []
    var natsServices: [OutputService] = []
    if let settings = configuration.nats {
      let output = NATSOutput(settings: settings, logger: logger)
      nats.append(output)
      natsServices.append(OutputService(
        name: NATSOutput.name(stream: settings.stream), destination: output, ledger: ledger,
        batchSize: configuration.natsBatch, metrics: metrics, logger: logger))
    }
    var fix: FIXAcceptor? = nil
    var fixServices: [OutputService] = []
    if let settings = configuration.fix {
      let sessions = settings.sessions.map { FIXSession(settings: $0, ledger: ledger, logger: logger) }
      fix = FIXAcceptor(settings: settings, sessions: sessions, logger: logger)
      fixServices = sessions.map { session in
        OutputService(
          name: session.settings.name, destination: FIXOutput(session: session), ledger: ledger,
          batchSize: 500, metrics: metrics, logger: logger)
      }
    }
    let streamServices = natsServices + fixServices
    guard !configuration.webhooks.isEmpty else {
      return streamServices.isEmpty ? .none : Outputs(services: streamServices, client: nil, nats: nats, fix: fix)
    }
    var http = HTTPClient.Configuration()
    http.timeout = .init(connect: .seconds(5), read: configuration.webhookTimeout)
    http.redirectConfiguration = .disallow  // a redirect is the receiver's answer, not ours to follow
    let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: http)
    let services = configuration.webhooks.map { url in
      OutputService(
        name: WebhookOutput.name(url: url),
        destination: WebhookOutput(
          url: url, secret: configuration.webhookSecret, timeout: configuration.webhookTimeout, client: client),
        ledger: ledger, batchSize: configuration.webhookBatch, metrics: metrics, logger: logger)
    }
    return Outputs(services: services + streamServices, client: client, nats: nats, fix: fix)
  }

  func start() {
    for session in fix?.sessions ?? [] { session.start() }
    for service in services { service.start() }
  }

  func stop() async {
    for service in services { await service.stop() }
    try? await client?.shutdown()
    for output in nats { await output.close() }
    await fix?.stop()
    for session in fix?.sessions ?? [] { await session.stop() }
  }

  func service(named name: String) -> OutputService? { services.first { $0.name == name } }
}
