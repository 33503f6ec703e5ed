import Glibc
import TradeTapWire

/// The plugin's parameters, exactly as the ABI spec's table names them, validated.
public struct PluginParameters: Sendable, Equatable {
  /// `Collector`: addresses tried in order for failover. Required.
  public var collectors: [CollectorEndpoint]
  /// `SecretFile`: file holding this server's shared secret. Required.
  public var secretFile: String
  /// `TLS`: `on` (default) or `off`.
  public var tlsEnabled: Bool
  /// `TLS.AllowInsecure`: `yes` lets `TLS=off` reach a collector that is not on
  /// loopback (default `no`: such a set is refused).
  public var tlsAllowInsecure: Bool
  /// `TLS.CAFile`: CA bundle for the collector's certificate; nil = the system store.
  public var tlsCAFile: String?
  /// `TLS.ServerName`: expected certificate name; nil = the host of each `Collector`.
  public var tlsServerName: String?
  /// `Journal.Path`: folder of the on-disk journal (default `tradetap-journal-<server_id>`).
  public var journalPath: String
  /// `Journal.SizeMB`: bound on the journal (default 256).
  public var journalSizeMB: Int
  /// `Groups`: MT-style group masks (default `*`).
  public var groups: GroupMask
  /// `Events`: hook families to journal (default all).
  public var events: EventSelection
  /// `Heartbeat.Seconds`: idle heartbeat interval (default 5).
  public var heartbeatSeconds: Int
  /// `Sender.Idle`: how the sender waits for new records (default `backoff`;
  /// beyond the spec's table, like `TLS.AllowInsecure`).
  public var senderIdle: SenderIdle = .default
  /// `Commands`: whether the plugin runs the collector's CRM commands (docs/commands.md).
  /// `off` makes the tap read-only: every command is answered `rejected` (`commands_disabled`).
  public var commandsEnabled = true

  /// One row of the spec's parameter table: name and default as `ts_plugin_about` lists it.
  public struct Definition: Sendable {
    public let name: String
    public let defaultValue: String
  }

  /// The spec's table, in order. Required parameters have an empty default.
  public static let definitions: [Definition] = [
    Definition(name: "Collector", defaultValue: ""),
    Definition(name: "SecretFile", defaultValue: ""),
    Definition(name: "TLS", defaultValue: "on"),
    Definition(name: "TLS.AllowInsecure", defaultValue: "no"),
    Definition(name: "TLS.CAFile", defaultValue: ""),
    Definition(name: "TLS.ServerName", defaultValue: ""),
    Definition(name: "Journal.Path", defaultValue: "tradetap-journal-<server_id>"),
    Definition(name: "Journal.SizeMB", defaultValue: "256"),
    Definition(name: "Groups", defaultValue: "*"),
    Definition(name: "Events", defaultValue: EventSelection.all.parameterText),
    Definition(name: "Heartbeat.Seconds", defaultValue: "5"),
    Definition(name: "Sender.Idle", defaultValue: SenderIdle.default.parameterText),
    Definition(name: "Commands", defaultValue: "on"),
  ]

  /// The table as `ts_gateway_about` lists it: a gateway's journal folder is its own.
  public static var gatewayDefinitions: [Definition] {
    definitions.map {
      $0.name == "Journal.Path" ? Definition(name: $0.name, defaultValue: "tradetap-journal-gw-<gateway_id>") : $0
    }
  }

  /// Validates parameter values.
  ///
  /// - Parameters:
  ///   - value: the value set for a name, or nil when unset (the default applies).
  ///   - serverId: `ts_server_info.server_id`, for the default journal folder.
  /// - Returns: the parameters, or every problem found, one clear line each.
  public static func validate(serverId: UInt32, value: (String) -> String?) -> Result<PluginParameters, ParameterProblems> {
    validate(defaultJournalPath: "tradetap-journal-\(serverId)", value: value)
  }

  /// Validates a gateway instance's parameters: the same table, but `Journal.Path`
  /// defaults to `tradetap-journal-gw-<gateway_id>`, so a server and a gateway
  /// instance in one process (or folder) never share a journal.
  public static func validate(gatewayId: UInt32, value: (String) -> String?) -> Result<PluginParameters, ParameterProblems> {
    validate(defaultJournalPath: "tradetap-journal-gw-\(gatewayId)", value: value)
  }

  static func validate(defaultJournalPath: String, value: (String) -> String?) -> Result<PluginParameters, ParameterProblems> {
    var problems: [String] = []
    func text(_ name: String) -> String? {
      guard let raw = value(name)?.trimmedASCIIWhitespace, !raw.isEmpty else { return nil }
      return raw
    }

    var collectors: [CollectorEndpoint] = []
    if let list = text("Collector") {
      if let parsed = CollectorEndpoint.list(parsing: list) {
        collectors = parsed
      } else {
        problems.append("parameter Collector: '\(list)' is not a comma list of host:port")
      }
    } else {
      problems.append("parameter Collector: required (host:port, or a comma list for failover)")
    }

    let secretFile = text("SecretFile") ?? ""
    if secretFile.isEmpty {
      problems.append("parameter SecretFile: required (file holding this server's shared secret)")
    } else if access(secretFile, R_OK) != 0 {
      problems.append("parameter SecretFile: cannot read '\(secretFile)' (errno \(errno))")
    }

    var tlsEnabled = true
    switch text("TLS")?.lowercased() {
    case nil, "on": tlsEnabled = true
    case "off": tlsEnabled = false
    case let other?: problems.append("parameter TLS: '\(other)' is neither on nor off")
    }
    var tlsAllowInsecure = false
    switch text("TLS.AllowInsecure")?.lowercased() {
    case nil, "no": tlsAllowInsecure = false
    case "yes": tlsAllowInsecure = true
    case let other?: problems.append("parameter TLS.AllowInsecure: '\(other)' is neither yes nor no")
    }
    // Plaintext carries every event and the handshake in the clear: only to this
    // machine, unless the operator says the network is trusted (SECURITY.md).
    let remote = collectors.filter { !LoopbackHost.contains($0.host) }
    if !tlsEnabled, !tlsAllowInsecure, !remote.isEmpty {
      problems.append("parameter TLS: off is refused for a collector that is not on loopback (\(remote.map(\.description).joined(separator: ","))): use TLS=on, or TLS.AllowInsecure=yes on a network you trust")
    }

    let caFile = text("TLS.CAFile")
    if let caFile, access(caFile, R_OK) != 0 {
      problems.append("parameter TLS.CAFile: cannot read '\(caFile)' (errno \(errno))")
    }
    let serverName = text("TLS.ServerName")

    let journalPath = text("Journal.Path") ?? defaultJournalPath

    var journalSizeMB = 256
    if let size = text("Journal.SizeMB") {
      if let parsed = Int(size), (1...65536).contains(parsed) {
        journalSizeMB = parsed
      } else {
        problems.append("parameter Journal.SizeMB: '\(size)' is not a whole number of megabytes in 1...65536")
      }
    }

    var groups = GroupMask.everyGroup
    if let masks = text("Groups") {
      if let parsed = GroupMask(parsing: masks) {
        groups = parsed
      } else {
        problems.append("parameter Groups: '\(masks)' is not a comma list of masks with at least one including mask (e.g. *,!demo*)")
      }
    }

    var events = EventSelection.all
    if let list = text("Events") {
      switch EventSelection.parse(list) {
      case .success(let parsed): events = parsed
      case .failure(.empty):
        problems.append("parameter Events: empty list (use \(EventSelection.all.parameterText))")
      case .failure(.unknownNames(let names)):
        problems.append("parameter Events: unknown \(names.joined(separator: ", ")) (known: \(EventSelection.all.parameterText))")
      }
    }

    var heartbeatSeconds = 5
    if let seconds = text("Heartbeat.Seconds") {
      if let parsed = Int(seconds), (1...3600).contains(parsed) {
        heartbeatSeconds = parsed
      } else {
        problems.append("parameter Heartbeat.Seconds: '\(seconds)' is not a whole number of seconds in 1...3600")
      }
    }

    var senderIdle = SenderIdle.default
    if let idle = text("Sender.Idle") {
      if let parsed = SenderIdle(parameterText: idle) {
        senderIdle = parsed
      } else {
        problems.append("parameter Sender.Idle: '\(idle)' is not busy-spin, yield, backoff, backoff:<µs 1-1000> or park")
      }
    }

    var commandsEnabled = true
    switch text("Commands")?.lowercased() {
    case nil, "on": commandsEnabled = true
    case "off": commandsEnabled = false
    case let other?: problems.append("parameter Commands: '\(other)' is neither on nor off")
    }

    guard problems.isEmpty else { return .failure(ParameterProblems(lines: problems)) }
    return .success(
      PluginParameters(
        collectors: collectors, secretFile: secretFile, tlsEnabled: tlsEnabled, tlsAllowInsecure: tlsAllowInsecure,
        tlsCAFile: caFile,
        tlsServerName: serverName, journalPath: journalPath, journalSizeMB: journalSizeMB, groups: groups,
        events: events, heartbeatSeconds: heartbeatSeconds, senderIdle: senderIdle, commandsEnabled: commandsEnabled))
  }
}

/// Every problem found in a parameter set, one log line each.
public struct ParameterProblems: Error, Sendable, Equatable {
  public let lines: [String]
}
