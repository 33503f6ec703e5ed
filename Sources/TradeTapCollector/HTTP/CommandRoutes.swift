import Foundation
import Hummingbird
import NIOCore
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// The CRM API's writes (docs/api.md, "Write API"; docs/commands.md): open an account,
/// move money, read a command. A write needs the write token (`--api-write-token-file`,
/// checked by ``BearerAuthMiddleware``) and an `Idempotency-Key`; it is validated
/// against the ledger first (nothing is written for a refused request), then admitted
/// durably (``LedgerStore/submitCommand(_:)``) before the `202`.
struct CommandRoutes: Sendable {
  let ledger: any LedgerStore
  /// `command_audit.token_id` and `commands.token_id`: the first 16 hex digits of the
  /// write token's SHA-256 (never the token); nil when writes are disabled.
  let writeTokenId: String?
  /// The largest amount one balance operation may move (`--max-operation-amount`).
  let maxOperationAmount: ExactDecimal
  /// Called with the server id after a command was admitted (``CommandAdmission/accepted(_:)``),
  /// so the server's live plugin connection sends it at once.
  var commandAccepted: @Sendable (UInt32) -> Void = { _ in }

  /// The largest request body a write takes.
  static let maxBodyBytes = 16 * 1024
  /// The longest CRM comment, in UTF-8 bytes.
  static let maxCommentBytes = 255
  static let accountsPath = "/v1/servers/:server_id/accounts"
  static let balanceOperationsPath = "/v1/servers/:server_id/balance-operations"
  static let commandPath = "/v1/commands/:command_id"

  /// Each path with the methods it serves (for the 405s).
  static let served: [(path: String, methods: [HTTPRequest.Method])] = [
    (accountsPath, [.post]), (balanceOperationsPath, [.post]), (commandPath, [.get]),
  ]

  /// Whether `request` is a write, which only the write token may make.
  static func isWrite(method: HTTPRequest.Method, path: String) -> Bool {
    guard method == .post else { return false }
    let segments = Router<BasicRequestContext>.segments(path)
    return [accountsPath, balanceOperationsPath].contains {
      MethodNotAllowedMiddleware<BasicRequestContext>.matches(segments, Router<BasicRequestContext>.segments($0))
    }
  }

  /// `tokenId` of a token: the first 16 hex digits of its SHA-256.
  static func tokenId(_ token: [UInt8]) -> String { String(hex(SHA256.hash(token)).prefix(16)) }

  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  func register(on router: Router<BasicRequestContext>) {
    router.post(RouterPath(stringLiteral: Self.accountsPath)) { request, context in try await openAccount(request, context) }
    router.post(RouterPath(stringLiteral: Self.balanceOperationsPath)) { request, context in try await moveMoney(request, context) }
    router.get(RouterPath(stringLiteral: Self.commandPath)) { request, context in try await command(request, context) }
  }

  // MARK: Routes

  private func openAccount(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let write = try await Write(request, context, tokenId: writeTokenId)
    if let known = try await known(write) { return known }
    let body = try AccountBody.decode(write.body)
    _ = try await server(write.serverId)
    let opening = AccountOpening(
      login: body.login ?? 0, group: body.group, name: body.name, email: body.email ?? "", country: body.country ?? "",
      currency: body.currency, currencyDigits: body.currencyDigits ?? 2, leverage: body.leverage)
    return try await submit(.openAccount(opening), write)
  }

  private func moveMoney(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let write = try await Write(request, context, tokenId: writeTokenId)
    if let known = try await known(write) { return known }
    let body = try BalanceOperationBody.decode(write.body)
    let platform = try await server(write.serverId)
    guard let type = BalanceOperationType(rawValue: body.type), MoneyMovement.platformForms[type] != nil else {
      let names = MoneyMovement.platformForms.keys.map(\.rawValue).sorted().joined(separator: ", ")
      throw Self.unprocessable("unsupported_type", "type '\(body.type)' is not one of \(names)")
    }
    if platform == 4, !MoneyMovement.mt4Types.contains(type) {
      let names = MoneyMovement.mt4Types.map(\.rawValue).sorted().joined(separator: ", ")
      throw Self.unprocessable("unsupported_type", "an MT4 server moves only \(names), not \(type.rawValue)")
    }
    guard !body.amount.hasPrefix("-") else {
      throw Self.unprocessable("invalid_amount", "amount must be above zero (the type says which way money moves)")
    }
    guard Self.isPlainDecimal(body.amount), let amount = ExactDecimal(body.amount) else {
      throw Self.unprocessable(
        "invalid_amount", "amount '\(body.amount.prefix(40))' is not a plain decimal number (\"100.00\": digits, one optional point)")
    }
    guard !amount.isZero else {
      throw Self.unprocessable("invalid_amount", "amount must be above zero (the type says which way money moves)")
    }
    guard amount <= maxOperationAmount else {
      throw Self.unprocessable("amount_too_large", "amount \(amount) is above the most one operation may move (\(maxOperationAmount))")
    }
    guard body.comment.utf8.count <= Self.maxCommentBytes else {
      throw Self.unprocessable("comment_too_long", "comment is \(body.comment.utf8.count) bytes; at most \(Self.maxCommentBytes)")
    }
    guard let login = Int64(exactly: body.login),
      let account = try await ledger.account(serverId: Int64(write.serverId), login: login),
      account.integer("deleted") != 1
    else {
      throw APIError(
        status: .notFound, code: "account_not_found", message: "no account \(body.login) on server \(write.serverId)")
    }
    let digits = UInt8(clamping: account.integer("currency_digits") ?? 2)
    guard amount.trimmed().scale <= digits, let exact = amount.rescaled(to: digits) else {
      throw Self.unprocessable(
        "too_many_decimals", "amount \(body.amount) has more decimals than the account currency's \(digits)")
    }
    return try await submit(
      .moveMoney(MoneyMovement(login: body.login, type: type, amount: exact, comment: body.comment)), write)
  }

  private func command(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    guard let id = context.parameters.get("command_id").flatMap(Int64.init), id > 0 else {
      throw APIError.badParameter("command_id", "expected a positive integer")
    }
    guard let command = try await ledger.command(id: id) else {
      throw APIError(status: .notFound, code: "command_not_found", message: "no command \(id)")
    }
    return Self.answer(command, status: .ok)
  }

  // MARK: Steps

  /// A retry of a known key is answered from its command before anything is validated
  /// again: an account deleted or a limit lowered since must not turn it into a refusal.
  /// Another request under the key: 409.
  private func known(_ write: Write) async throws -> Response? {
    guard let command = try await ledger.command(idempotencyKey: write.key) else { return nil }
    guard command.bodyHash == write.bodyHash else {
      throw APIError(
        status: .conflict, code: "idempotency_key_reused",
        message: "Idempotency-Key was used for command \(command.id) with another request body")
    }
    return Self.answer(command, status: command.status.isFinal ? .ok : .accepted)
  }

  /// `servers.platform` of a known server (nil when not yet known); 404 `server_not_found` otherwise.
  private func server(_ id: UInt32) async throws -> Int64? {
    guard let row = try await ledger.servers().first(where: { $0.integer("server_id") == Int64(id) }) else {
      throw APIError(status: .notFound, code: "server_not_found", message: "no trade server \(id) in the ledger")
    }
    return row.integer("platform")
  }

  private func submit(_ command: CommandRequest, _ write: Write) async throws -> Response {
    let admission = try await ledger.submitCommand(CommandSubmission(
      serverId: write.serverId, request: command, idempotencyKey: write.key, bodyHash: write.bodyHash,
      tokenId: write.tokenId))
    switch admission {
    case .accepted(let command):
      commandAccepted(command.serverId)
      return Self.answer(command, status: .accepted)
    case .repeated(let command):
      return Self.answer(command, status: command.status.isFinal ? .ok : .accepted)
    case .conflict(let command):
      throw APIError(
        status: .conflict, code: "idempotency_key_reused",
        message: "Idempotency-Key was used for command \(command.id) with another request body")
    }
  }

  /// `^[0-9]{1,18}(\.[0-9]{1,18})?$` (docs/openapi.json): no sign, exponent, spaces or bare point.
  static func isPlainDecimal(_ text: String) -> Bool {
    let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard (1...2).contains(parts.count) else { return false }
    return parts.allSatisfy { part in
      (1...18).contains(part.count) && part.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
  }

  static func unprocessable(_ code: String, _ message: String) -> APIError {
    APIError(status: .unprocessableContent, code: code, message: message)
  }

  /// A command as the API shows it (absent values as null).
  static func answer(_ command: LedgerCommand, status: HTTPResponse.Status) -> Response {
    var json = JSONWriter()
    json.object { o in
      o.field("command_id", command.id)
      o.field("server_id", Int64(command.serverId))
      o.field("kind", LedgerCommandCodec.kind(command.request))
      o.field("status", command.status.rawValue)
      o.field("login", command.login.flatMap { Int64(exactly: $0) })
      o.field("deal", command.deal.flatMap { Int64(exactly: $0) })
      o.field("type", LedgerCommandCodec.type(command.request))
      o.field("amount", LedgerCommandCodec.amount(command.request))
      o.field("reason", command.reason)
      o.field("host_result", command.hostResult.map { Int64($0) })
      o.field("created_utc", command.createdUtc)
      o.field("updated_utc", command.updatedUtc)
    }
    var response = CRMRoutes.json(json)
    response.status = status
    return response
  }
}

/// What every write request carries: the server, the idempotency key, the body and its hash.
private struct Write {
  let serverId: UInt32
  let key: String
  let body: [UInt8]
  /// SHA-256 (hex) of `METHOD SP path LF body`: what the key stands for.
  let bodyHash: String
  let tokenId: String

  init(_ request: Request, _ context: BasicRequestContext, tokenId: String?) async throws {
    // The middleware lets no write through without the write token; this is a second lock.
    guard let tokenId else { throw BearerAuthMiddleware<BasicRequestContext>.writesDisabled }
    self.tokenId = tokenId
    _ = try QueryParameters(request, allowed: [])
    guard let server = context.parameters.get("server_id").flatMap(UInt32.init) else {
      throw APIError.badParameter("server_id", "expected an integer from 0 to 4294967295")
    }
    serverId = server
    let keys = request.headers[values: .init("Idempotency-Key")!]
    guard keys.count == 1, let key = keys.first, (1...64).contains(key.utf8.count),
      key.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
    else {
      throw APIError(
        status: .badRequest, code: "bad_idempotency_key",
        message: "send one Idempotency-Key header of 1 to 64 printable ASCII characters (no spaces)")
    }
    self.key = key
    if let length = request.headers[.contentLength].flatMap(Int.init), length > CommandRoutes.maxBodyBytes {
      throw Self.tooLarge
    }
    var buffer: ByteBuffer
    do {
      buffer = try await request.body.collect(upTo: CommandRoutes.maxBodyBytes)
    } catch is NIOTooManyBytesError {
      throw Self.tooLarge
    }
    body = buffer.readBytes(length: buffer.readableBytes) ?? []
    var hash = SHA256()
    hash.update(Array("\(request.method.rawValue) \(request.uri.path)\n".utf8))
    hash.update(body)
    bodyHash = CommandRoutes.hex(hash.finalize())
  }

  static let tooLarge = APIError(
    status: .contentTooLarge, code: "body_too_large", message: "the body is over \(CommandRoutes.maxBodyBytes) bytes")
}


// MARK: Bodies

/// A JSON object decoded strictly: unknown fields are refused, each field has one type.
private struct StrictObject {
  let container: KeyedDecodingContainer<AnyKey>

  struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  static func decode<T>(_ body: [UInt8], allowed: Set<String>, _ make: (StrictObject) throws -> T) throws -> T {
    guard !body.isEmpty else { throw bad("bad_json", "the body must be a JSON object") }
    let decoder = JSONDecoder()
    let holder: Holder
    do {
      holder = try decoder.decode(Holder.self, from: Data(body))
    } catch {
      throw bad("bad_json", "the body is not a JSON object")
    }
    let object = StrictObject(container: holder.container)
    for key in object.container.allKeys where !allowed.contains(key.stringValue) {
      throw bad("unknown_field", "unknown field '\(key.stringValue)'; expected \(allowed.sorted().joined(separator: ", "))")
    }
    return try make(object)
  }

  struct Holder: Decodable {
    let container: KeyedDecodingContainer<AnyKey>
    init(from decoder: any Decoder) throws { container = try decoder.container(keyedBy: AnyKey.self) }
  }

  static func bad(_ code: String, _ message: String) -> APIError {
    APIError(status: .badRequest, code: code, message: message)
  }

  func has(_ name: String) -> Bool { container.contains(AnyKey(stringValue: name)) }

  func text(_ name: String) throws -> String {
    guard let value = try optionalText(name) else { throw Self.bad("missing_field", "'\(name)' is required") }
    return value
  }

  func optionalText(_ name: String) throws -> String? {
    let key = AnyKey(stringValue: name)
    guard container.contains(key), !(try container.decodeNil(forKey: key)) else { return nil }
    guard let value = try? container.decode(String.self, forKey: key) else {
      throw Self.bad("bad_field", "'\(name)' must be a JSON string")
    }
    return value
  }

  func integer<T: FixedWidthInteger & Decodable>(_ name: String, _ range: ClosedRange<T>) throws -> T? {
    let key = AnyKey(stringValue: name)
    guard container.contains(key), !(try container.decodeNil(forKey: key)) else { return nil }
    guard let value = try? container.decode(Int64.self, forKey: key), let typed = T(exactly: value),
      range.contains(typed), (try? container.decode(Bool.self, forKey: key)) == nil
    else {
      guard let value = try? container.decode(UInt64.self, forKey: key), let typed = T(exactly: value), range.contains(typed)
      else { throw Self.bad("bad_field", "'\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)") }
      return typed
    }
    return typed
  }
}

/// `POST /v1/servers/{server_id}/accounts`.
private struct AccountBody {
  var group: String
  var name: String
  var email: String?
  var country: String?
  var currency: String
  var currencyDigits: UInt8?
  var leverage: UInt32
  var login: UInt64?

  static let fields: Set<String> = ["group", "name", "email", "country", "currency", "currency_digits", "leverage", "login"]

  static func decode(_ body: [UInt8]) throws -> AccountBody {
    let parsed = try StrictObject.decode(body, allowed: fields) { o in
      guard let leverage = try o.integer("leverage", UInt32(1)...10_000) else {
        throw StrictObject.bad("missing_field", "'leverage' is required")
      }
      return AccountBody(
        group: try o.text("group"), name: try o.text("name"), email: try o.optionalText("email"),
        country: try o.optionalText("country"), currency: try o.text("currency"),
        currencyDigits: try o.integer("currency_digits", UInt8(0)...8), leverage: leverage,
        login: try o.integer("login", UInt64(0)...UInt64(Int64.max)))
    }
    let sizes = AccountOpening.fieldSizes
    for (name, value, size) in [
      ("group", parsed.group, sizes.group), ("name", parsed.name, sizes.name), ("email", parsed.email ?? "", sizes.email),
      ("country", parsed.country ?? "", sizes.country), ("currency", parsed.currency, sizes.currency),
    ] {
      guard value.utf8.count < size else {
        throw CommandRoutes.unprocessable("field_too_long", "\(name) is \(value.utf8.count) bytes; at most \(size - 1)")
      }
      guard !value.utf8.contains(0) else { throw CommandRoutes.unprocessable("invalid_field", "\(name) holds a NUL byte") }
    }
    for (name, value) in [("group", parsed.group), ("name", parsed.name), ("currency", parsed.currency)]
    where value.trimmingCharacters(in: .whitespaces).isEmpty {
      throw CommandRoutes.unprocessable("invalid_field", "\(name) must not be empty")
    }
    return parsed
  }
}

/// `POST /v1/servers/{server_id}/balance-operations`.
private struct BalanceOperationBody {
  var login: UInt64
  var type: String
  var amount: String
  var comment: String

  static let fields: Set<String> = ["login", "type", "amount", "comment"]

  static func decode(_ body: [UInt8]) throws -> BalanceOperationBody {
    try StrictObject.decode(body, allowed: fields) { o in
      guard let login = try o.integer("login", UInt64(0)...UInt64(Int64.max)) else {
        throw StrictObject.bad("missing_field", "'login' is required")
      }
      let key = StrictObject.AnyKey(stringValue: "amount")
      if o.has("amount"), (try? o.container.decode(String.self, forKey: key)) == nil,
        (try? o.container.decode(Double.self, forKey: key)) != nil
      {
        throw StrictObject.bad(
          "bad_field", "'amount' must be a JSON string holding an exact decimal (\"100.00\"), not a JSON number")
      }
      let comment = try o.optionalText("comment") ?? ""
      guard !comment.utf8.contains(0) else { throw CommandRoutes.unprocessable("invalid_field", "comment holds a NUL byte") }
      return BalanceOperationBody(login: login, type: try o.text("type"), amount: try o.text("amount"), comment: comment)
    }
  }
}
