import TradeTapEvents

/// Opens a connection (plugin → collector).
public struct Hello: Sendable, Hashable {
  /// The trade server this plugin taps.
  public var serverId: UInt32
  /// 32 random bytes, fresh for every connection.
  public var clientNonce: [UInt8]
  /// Free text for logs, e.g. `"TradeTapPlugin 0.1"`.
  public var software: String
  /// The host's `ts_server_info` (name, platform, UTC offset), for the ledger's
  /// `servers` row. Optional on the wire: a hello without it is still valid.
  public var server: ServerIdentity?
  public init(serverId: UInt32, clientNonce: [UInt8], software: String, server: ServerIdentity? = nil) {
    self.serverId = serverId
    self.clientNonce = clientNonce
    self.software = software
    self.server = server
  }
}

/// Who the trade server is, as its host describes it (`ts_server_info`).
public struct ServerIdentity: Sendable, Hashable {
  /// The server's display name (`ts_server_info.name`).
  public var name: String
  /// 4 (MT4) or 5 (MT5), `TS_PLATFORM_*`.
  public var platform: UInt8
  /// Broker time minus UTC, minutes.
  public var utcOffsetMinutes: Int32
  public init(name: String, platform: UInt8, utcOffsetMinutes: Int32) {
    self.name = name
    self.platform = platform
    self.utcOffsetMinutes = utcOffsetMinutes
  }
}

/// The collector's nonce (collector → plugin).
public struct Challenge: Sendable, Hashable {
  public var serverNonce: [UInt8]
  public init(serverNonce: [UInt8]) { self.serverNonce = serverNonce }
}

/// The plugin's proof that it holds the secret (plugin → collector).
public struct Authenticate: Sendable, Hashable {
  public var clientProof: [UInt8]
  public init(clientProof: [UInt8]) { self.clientProof = clientProof }
}

/// The collector's proof, and where to resume (collector → plugin).
public struct Welcome: Sendable, Hashable {
  public var serverProof: [UInt8]
  /// The last sequence number the collector holds durably (0: none). The plugin
  /// sends from the next one.
  public var lastDurableSequence: UInt64
  /// Heartbeat interval the collector expects, in milliseconds (0: the plugin's own).
  public var heartbeatMillis: UInt32
  public init(serverProof: [UInt8], lastDurableSequence: UInt64, heartbeatMillis: UInt32) {
    self.serverProof = serverProof
    self.lastDurableSequence = lastDurableSequence
    self.heartbeatMillis = heartbeatMillis
  }
}

/// Consecutive events (plugin → collector): event `i` has sequence `firstSequence + i`.
public struct EventBatch: Sendable, Hashable {
  public var firstSequence: UInt64
  public var events: [Event]
  public init(firstSequence: UInt64, events: [Event]) {
    self.firstSequence = firstSequence
    self.events = events
  }
}

/// Cumulative acknowledgement (collector → plugin): every event through
/// `throughSequence` is committed in the ledger.
public struct Ack: Sendable, Hashable {
  public var throughSequence: UInt64
  public init(throughSequence: UInt64) { self.throughSequence = throughSequence }
}

/// Liveness, both ways; a peer silent for three intervals is dead.
public struct Heartbeat: Sendable, Hashable {
  /// The sender's clock in nanoseconds (monotonic; only meaningful to the sender,
  /// which may echo-match it).
  public var timestampNanos: UInt64
  public init(timestampNanos: UInt64) { self.timestampNanos = timestampNanos }
}

/// Sequence numbers that will never carry events (plugin → collector).
public struct GapNotice: Sendable, Hashable {
  public var firstSequence: UInt64
  public var count: UInt64
  public var reason: GapReason
  public init(firstSequence: UInt64, count: UInt64, reason: GapReason) {
    self.firstSequence = firstSequence
    self.count = count
    self.reason = reason
  }
}

/// What a snapshot covers.
public enum SnapshotScope: UInt8, Sendable, CaseIterable {
  /// Every account (`users_enum`), or one (`user_get`) when `login` is non-zero.
  case accounts = 1
  /// Open positions (`positions_enum`), MT5.
  case positions = 2
  /// Deals with `from <= time < to` broker time (`deals_enum`), MT5.
  case deals = 3
  /// MT4 trade records (`trades_enum`), optionally open only.
  case trades = 4
}

/// Asks the plugin for platform state (collector → plugin), for reconciliation.
public struct SnapshotRequest: Sendable, Hashable {
  /// Chosen by the collector; echoed in every chunk.
  public var requestId: UInt32
  public var scope: SnapshotScope
  /// 0: every account.
  public var login: UInt64
  /// Deals window, broker-time milliseconds (deals only).
  public var fromBrokerMilliseconds: Int64
  public var toBrokerMilliseconds: Int64
  /// Trades: open trades only.
  public var openOnly: Bool
  public init(
    requestId: UInt32, scope: SnapshotScope, login: UInt64 = 0, fromBrokerMilliseconds: Int64 = 0,
    toBrokerMilliseconds: Int64 = 0, openOnly: Bool = false
  ) {
    self.requestId = requestId
    self.scope = scope
    self.login = login
    self.fromBrokerMilliseconds = fromBrokerMilliseconds
    self.toBrokerMilliseconds = toBrokerMilliseconds
    self.openOnly = openOnly
  }
}

/// How a snapshot ended.
public enum SnapshotStatus: UInt8, Sendable, CaseIterable {
  /// Records follow (possibly none); more chunks unless final.
  case ok = 0
  /// The host does not offer this scope: its query function is NULL. (Plugins
  /// before status 3 also sent it for a query answering `TS_ERR_NOT_FOUND`.)
  case notOffered = 1
  /// The plugin could not answer (e.g. too many queued requests).
  case failed = 2
  /// The host's query function answered an error (``SnapshotChunk/hostResult``, a
  /// `ts_result` such as `TS_ERR_NOT_FOUND`): the scope's state is unknown, never
  /// an empty book. Final chunk, no records.
  case hostError = 3
}

/// Part of a snapshot (plugin → collector). Records are events with a snapshot
/// kind (`userSnapshot`, ...) and sequence 0.
public struct SnapshotChunk: Sendable, Hashable {
  public var requestId: UInt32
  /// 0, 1, 2... within the request.
  public var chunkIndex: UInt32
  /// The last chunk of the request.
  public var isFinal: Bool
  public var status: SnapshotStatus
  public var records: [Event]
  /// With ``SnapshotStatus/hostError``: the `ts_result` the host's query answered
  /// (on the wire after the records, only with that status); else 0.
  public var hostResult: Int32
  public init(
    requestId: UInt32, chunkIndex: UInt32, isFinal: Bool, status: SnapshotStatus = .ok, records: [Event],
    hostResult: Int32 = 0
  ) {
    self.requestId = requestId
    self.chunkIndex = chunkIndex
    self.isFinal = isFinal
    self.status = status
    self.records = records
    self.hostResult = status == .hostError ? hostResult : 0
  }
}

/// The last frame before closing: why.
public struct ErrorMessage: Sendable, Hashable {
  public var code: ErrorCode
  public var message: String
  public init(code: ErrorCode, message: String) {
    self.code = code
    self.message = message
  }
}

/// A CRM command for the trade server (collector → plugin). The collector sends
/// every unfinished command of the server after each welcome and each new one at
/// once; the plugin runs each at most once and answers a finished one from its
/// record (docs/commands.md).
public struct CommandMessage: Sendable, Hashable {
  /// The ledger's command id: the marker `TT#<id>` on the platform's record.
  public var commandId: UInt64
  public var request: CommandRequest
  public init(commandId: UInt64, request: CommandRequest) {
    self.commandId = commandId
    self.request = request
  }
}

/// How a command ended, as the plugin recorded it.
public enum CommandResultStatus: UInt8, Sendable, CaseIterable {
  /// The platform applied it: `deal` (money) or `login` (account) says what it made.
  case done = 1
  /// The platform refused it (`hostResult`), or the host does not offer the call; nothing changed.
  case rejected = 2
  /// The plugin cannot tell whether the platform applied it (its search of the
  /// platform's records failed); it stays unfinished and is resolved on the next delivery.
  case unknown = 3
}

/// What a command did (plugin → collector), sent after the plugin recorded it durably.
public struct CommandResultMessage: Sendable, Hashable {
  public var commandId: UInt64
  public var status: CommandResultStatus
  /// The host's `ts_result` (0 when done).
  public var hostResult: Int32
  /// The deal (MT4: ticket) of a done money movement, else 0.
  public var deal: UInt64
  /// The account's login (a done opening: the new login), else 0.
  public var login: UInt64
  /// Why rejected or unknown (`no_money`, `not_found`, ...); empty when done.
  public var reason: String
  public init(commandId: UInt64, status: CommandResultStatus, hostResult: Int32 = 0, deal: UInt64 = 0, login: UInt64 = 0,
              reason: String = "") {
    self.commandId = commandId
    self.status = status
    self.hostResult = hostResult
    self.deal = deal
    self.login = login
    self.reason = reason
  }
}

/// Every protocol message.
public enum Message: Sendable, Hashable {
  case hello(Hello)
  case challenge(Challenge)
  case authenticate(Authenticate)
  case welcome(Welcome)
  case eventBatch(EventBatch)
  case ack(Ack)
  case heartbeat(Heartbeat)
  case gapNotice(GapNotice)
  case snapshotRequest(SnapshotRequest)
  case snapshotChunk(SnapshotChunk)
  case error(ErrorMessage)
  case command(CommandMessage)
  case commandResult(CommandResultMessage)

  /// The frame type that carries this message.
  public var type: MessageType {
    switch self {
    case .hello: .hello
    case .challenge: .challenge
    case .authenticate: .authenticate
    case .welcome: .welcome
    case .eventBatch: .eventBatch
    case .ack: .ack
    case .heartbeat: .heartbeat
    case .gapNotice: .gapNotice
    case .snapshotRequest: .snapshotRequest
    case .snapshotChunk: .snapshotChunk
    case .error: .error
    case .command: .command
    case .commandResult: .commandResult
    }
  }
}
