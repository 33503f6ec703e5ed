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

  static let none = Outputs(services: [], client: nil)

  private init(services: [OutputService], client: HTTPClient?) {
    self.services = services
    self.client = client
  }

  /// The outputs `configuration` names, not yet started.
  static func make(
    _ configuration: CollectorConfiguration, ledger: any LedgerStore, metrics: CollectorMetrics, logger: Logger
  ) -> Outputs {
    guard !configuration.webhooks.isEmpty else { return .none }
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
    return Outputs(services: services, client: client)
  }

  func start() { for service in services { service.start() } }

  func stop() async {
    for service in services { await service.stop() }
    try? await client?.shutdown()
  }

  func service(named name: String) -> OutputService? { services.first { $0.name == name } }
}
