/// Everything a simulated trade server run needs; defaults are the CLI's.
public struct SimulationConfiguration: Sendable {
  public enum Platform: String, Sendable { case mt4, mt5 }
  public enum MarginChoice: String, Sendable { case hedging, netting, mixed }
  public enum Length: Sendable, Equatable {
    case duration(seconds: Double)
    case events(Int)
  }

  /// Plugin shared libraries to load, in order.
  public var plugins: [String] = []
  /// Plugin parameters (`--param NAME=VALUE`).
  public var parameters: [String: String] = [:]
  public var platform: Platform = .mt5
  public var margin: MarginChoice = .mixed
  public var serverID: UInt32 = 1
  /// Broker time minus UTC.
  public var utcOffsetMinutes: Int32 = 120
  public var accounts: Int = 100
  /// Events per second offered to the hooks; 0 = as fast as possible.
  public var rate: Double = 1000
  public var length: Length = .duration(seconds: 10)
  public var threads: Int = 2
  public var seed: UInt64 = 1
  /// JSON Lines scenario replayed instead of the generated day.
  public var scenario: String?
  /// Share (percent) of state changes applied without calling the hooks.
  public var missEventsPercent: Double = 0
  /// Host journal file; nil logs to stderr.
  public var journalPath: String?
  /// `--gateway HOST:PORT`: MT5 client market requests of accounts in `gatewayGroups`
  /// go to this gateway (docs/gateway.md).
  public var gateway: GatewayAddress?
  /// `--gateway-groups MASK`: MT5 group masks (`*` wildcard, `!` excludes).
  public var gatewayGroups = "*"
  /// `--gateway-store FILE`: the last processed execution id (durable).
  public var gatewayStorePath: String?
  /// How long the run waits, after its last step, for routed orders to end.
  public var gatewayDrainSeconds: Double = 120

  public init() {}
}

/// What a run did.
public struct SimulationSummary: Sendable {
  /// Hook calls offered to the plugins.
  public var eventsFired: Int
  /// Changes applied without calling the hooks (`--miss-events`).
  public var eventsMissed: Int
  public var seconds: Double
  public var accounts: Int
  public var pluginsLoaded: Int
  /// Hook calls per second.
  public var rate: Double { seconds > 0 ? Double(eventsFired) / seconds : 0 }
}
