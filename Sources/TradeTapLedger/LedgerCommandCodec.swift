import Foundation
import TradeTapEvents

/// How a CRM command is kept in the `commands` table, on both backends: its
/// columns, the canonical JSON of its request, and the row read back as a
/// ``LedgerCommand`` (docs/ledger.md, "Commands"; docs/commands.md).
public enum LedgerCommandCodec {
  /// `commands.kind` of an account opening.
  public static let openAccountKind = "open_account"
  /// `commands.kind` of a money movement.
  public static let balanceOperationKind = "balance_operation"

  /// `commands.kind` of a request.
  public static func kind(_ request: CommandRequest) -> String {
    switch request {
    case .openAccount: openAccountKind
    case .moveMoney: balanceOperationKind
    }
  }

  /// `commands.type`: the balance operation's type name; nil for an account opening.
  public static func type(_ request: CommandRequest) -> String? {
    if case .moveMoney(let movement) = request { movement.type.rawValue } else { nil }
  }

  /// `commands.amount`: the exact decimal text; nil for an account opening.
  public static func amount(_ request: CommandRequest) -> String? {
    if case .moveMoney(let movement) = request { movement.amount.description } else { nil }
  }

  /// The request as canonical JSON text: keys sorted, no spaces, integers as
  /// integers, the amount as its exact decimal string. The same request always
  /// gives the same text.
  public static func requestJSON(_ request: CommandRequest) -> String {
    var fields: [(String, String)]
    switch request {
    case .openAccount(let o):
      fields = [
        ("country", quoted(o.country)), ("currency", quoted(o.currency)),
        ("currency_digits", String(o.currencyDigits)), ("email", quoted(o.email)), ("group", quoted(o.group)),
        ("leverage", String(o.leverage)), ("login", String(o.login)), ("name", quoted(o.name)),
      ]
    case .moveMoney(let m):
      fields = [
        ("amount", quoted(m.amount.description)), ("comment", quoted(m.comment)), ("login", String(m.login)),
        ("type", quoted(m.type.rawValue)),
      ]
    }
    fields.sort { $0.0 < $1.0 }
    return "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
  }

  /// A JSON string literal: `"` and `\` escaped, control characters as `\uXXXX`.
  static func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  /// A request back from its `commands.kind` and canonical JSON.
  public static func request(kind: String, json: String) throws -> CommandRequest {
    guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
      throw Malformed("request is not a JSON object")
    }
    func text(_ name: String) throws -> String {
      guard let value = object[name] as? String else { throw Malformed("request.\(name) is not text") }
      return value
    }
    func number(_ name: String) throws -> UInt64 {
      guard let value = object[name] as? NSNumber, value.int64Value >= 0 else {
        throw Malformed("request.\(name) is not a number")
      }
      return value.uint64Value
    }
    switch kind {
    case openAccountKind:
      return .openAccount(AccountOpening(
        login: try number("login"), group: try text("group"), name: try text("name"), email: try text("email"),
        country: try text("country"), currency: try text("currency"),
        currencyDigits: UInt8(clamping: try number("currency_digits")), leverage: UInt32(clamping: try number("leverage"))))
    case balanceOperationKind:
      guard let type = BalanceOperationType(rawValue: try text("type")) else { throw Malformed("request.type") }
      guard let amount = ExactDecimal(try text("amount")) else { throw Malformed("request.amount") }
      return .moveMoney(MoneyMovement(login: try number("login"), type: type, amount: amount, comment: try text("comment")))
    default:
      throw Malformed("unknown command kind \(kind)")
    }
  }

  /// The columns every command read selects (both dialects).
  public static let select = """
    SELECT id, server_id, kind, login, type, amount, idempotency_key, body_hash, token_id, request, status,
           deal, result_login, reason, host_result, created_utc, updated_utc, sent_count
    FROM commands
    """

  /// A `commands` row (``select``) as a ``LedgerCommand``.
  public static func command(_ row: LedgerRecord) throws -> LedgerCommand {
    guard let id = row.integer("id"), let server = row.integer("server_id").flatMap(UInt32.init(exactly:)),
      let kind = row.text("kind"), let json = row.text("request"), let key = row.text("idempotency_key"),
      let hash = row.text("body_hash"), let statusText = row.text("status"),
      let status = CommandStatus(rawValue: statusText), let created = row.text("created_utc"),
      let updated = row.text("updated_utc")
    else { throw Malformed("commands row \(row.integer("id") ?? 0) is incomplete") }
    let request = try request(kind: kind, json: json)
    let resultLogin = row.integer("result_login").map { UInt64(bitPattern: $0) }
    let login = resultLogin ?? (request.login != 0 ? request.login : nil)
    return LedgerCommand(
      id: id, serverId: server, request: request, idempotencyKey: key, bodyHash: hash, status: status,
      deal: row.integer("deal").map { UInt64(bitPattern: $0) }, login: login, reason: row.text("reason"),
      hostResult: row.integer("host_result").map { Int32(truncatingIfNeeded: $0) }, createdUtc: created,
      updatedUtc: updated)
  }

  /// What a final outcome writes: the status, the deal or login, the reason, the
  /// host's result, and the audit row's `result` text (`done deal 123`, `rejected no_money`).
  public struct Final: Sendable {
    public var status: CommandStatus
    public var deal: Int64?
    public var resultLogin: Int64?
    public var reason: String?
    public var hostResult: Int64?
    public var auditResult: String
  }

  /// The final columns `outcome` writes to `command`; nil for ``CommandOutcome/unknown(reason:)``.
  /// A money movement keeps a deal, an account opening a login.
  public static func final(_ outcome: CommandOutcome, of command: LedgerCommand) -> Final? {
    switch outcome {
    case .done(let deal, let login):
      if case .openAccount = command.request {
        let login = login ?? command.request.login
        return Final(
          status: .done, resultLogin: login == 0 ? nil : Int64(bitPattern: login),
          auditResult: "done login \(login)")
      }
      return Final(
        status: .done, deal: deal.map { Int64(bitPattern: $0) }, auditResult: "done deal \(deal.map(String.init) ?? "none")")
    case .rejected(let reason, let hostResult):
      return Final(status: .rejected, reason: reason, hostResult: Int64(hostResult), auditResult: "rejected \(reason)")
    case .unknown:
      return nil
    }
  }

  /// The change feed's summary of a final command (``LedgerReadSQL/changes``), in the
  /// events' form `<entity> <id> login <login> ...`: `command 12 login 5001 done deal 90001`.
  static let changeSummarySQL = """
    'command ' || m.id || ' login ' || coalesce(m.result_login, m.login) || ' ' || m.status
      || coalesce(' deal ' || m.deal, '') || coalesce(' reason ' || m.reason, '')
    """

  public struct Malformed: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
  }
}
