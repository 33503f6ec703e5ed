import TradeTapEvents

/// A command's state in the ledger (docs/commands.md):
/// `pending` (durable, not yet handed to the plugin) → `sent` → `done` | `rejected`;
/// `unknown` when the plugin could not tell whether the platform applied it (it stays
/// unfinished and is resolved from the platform's deals on the next delivery).
public enum CommandStatus: String, Sendable, CaseIterable {
  case pending, sent, done, rejected, unknown

  /// `done` and `rejected` never change again.
  public var isFinal: Bool { self == .done || self == .rejected }
}

/// What the CRM submits: the command and the request's identity for idempotency.
public struct CommandSubmission: Sendable, Hashable {
  public var serverId: UInt32
  public var request: CommandRequest
  /// The `Idempotency-Key` header: 1–64 printable ASCII bytes, unique across the ledger.
  public var idempotencyKey: String
  /// SHA-256 (hex) of what the key stands for: method, path and body bytes.
  public var bodyHash: String
  /// Which write token submitted it (an id derived from the token, never the token).
  public var tokenId: String

  public init(serverId: UInt32, request: CommandRequest, idempotencyKey: String, bodyHash: String, tokenId: String) {
    self.serverId = serverId
    self.request = request
    self.idempotencyKey = idempotencyKey
    self.bodyHash = bodyHash
    self.tokenId = tokenId
  }
}

/// One command as the ledger holds it.
public struct LedgerCommand: Sendable, Hashable {
  public var id: Int64
  public var serverId: UInt32
  public var request: CommandRequest
  public var idempotencyKey: String
  public var bodyHash: String
  public var status: CommandStatus
  /// The deal (MT4: ticket) a done money movement made.
  public var deal: UInt64?
  /// The login a done account opening got (a money movement's own login otherwise).
  public var login: UInt64?
  /// Why it was rejected (`no_money`, `not_found`, `invalid_argument`, `unsupported`, ...),
  /// or why it is unknown.
  public var reason: String?
  /// The host's `ts_result` of a rejection.
  public var hostResult: Int32?
  /// UTC, ISO 8601 with milliseconds.
  public var createdUtc: String
  public var updatedUtc: String

  public init(
    id: Int64, serverId: UInt32, request: CommandRequest, idempotencyKey: String, bodyHash: String,
    status: CommandStatus, deal: UInt64? = nil, login: UInt64? = nil, reason: String? = nil, hostResult: Int32? = nil,
    createdUtc: String, updatedUtc: String
  ) {
    self.id = id
    self.serverId = serverId
    self.request = request
    self.idempotencyKey = idempotencyKey
    self.bodyHash = bodyHash
    self.status = status
    self.deal = deal
    self.login = login
    self.reason = reason
    self.hostResult = hostResult
    self.createdUtc = createdUtc
    self.updatedUtc = updatedUtc
  }
}

/// What a submission became.
public enum CommandAdmission: Sendable, Hashable {
  /// A new command, durable now.
  case accepted(LedgerCommand)
  /// The key was seen with the same body hash: that command, as it is now.
  case repeated(LedgerCommand)
  /// The key was seen with another body hash: nothing written.
  case conflict(LedgerCommand)
}

/// What the plugin reported for a command.
public enum CommandOutcome: Sendable, Hashable {
  /// The platform applied it: the deal (money) or the login (account) it made.
  case done(deal: UInt64?, login: UInt64?)
  /// The platform refused it and changed nothing.
  case rejected(reason: String, hostResult: Int32)
  /// The plugin cannot tell yet (its search of the platform's records failed): stays unfinished.
  case unknown(reason: String)
}
