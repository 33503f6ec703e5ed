import Foundation
import Logging
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// The CRM write API of a real collector (port 0, real ledger on both backends, a
/// real plugin peer delivering the account, real HTTP over sockets): tokens,
/// idempotency, every validation refusal writing nothing, the change feed.
@Suite("CRM write API", .serialized)
struct CommandAPITests {
  static let writeToken = "crm-write-token-456"
  static let login: UInt64 = 5001

  /// A collector with the write token (unless `writes` is false), server 7 (MT5)
  /// holding account 5001 (EUR, 2 digits) and server 8 (MT4) with no accounts.
  static func withWriteCollector(
    backend: LedgerBackendKind = .sqlite, writes: Bool = true, _ body: (Harness, WriteClient) async throws -> Void
  ) async throws {
    let folder = try Harness.folder()
    var config = CollectorConfiguration()
    config.listenPort = 0
    config.httpPort = 0
    config.databasePath = folder + "/ledger.sqlite"
    var database: TestPostgres.Database? = nil
    if backend == .postgres {
      database = try await TestPostgres.createDatabase()
      config.postgresURL = database!.url
    }
    config.secrets = [Harness.serverId: Array(Harness.secret.utf8), 8: Array("another secret of server 8".utf8)]
    config.apiToken = Array(Harness.token.utf8)
    if writes { config.apiWriteToken = Array(writeToken.utf8) }
    config.maxOperationAmount = ExactDecimal("50000")!
    var logger = Logger(label: "test.collector")
    logger.logLevel = .warning
    let harness = Harness(
      folder: folder, collector: try await Collector.start(configuration: config, logger: logger), backend: backend,
      database: database)
    let result: Result<Void, any Error>
    do {
      let mt5 = try await TestPlugin.connect(port: harness.port)
      _ = try await mt5.handshake(
        serverId: Harness.serverId, secret: Harness.secret, server: ServerIdentity(name: "mt5", platform: 5, utcOffsetMinutes: 120))
      try await mt5.deliver([CRMEvents.user(seq: 1, login: login, name: "Client", balance: "100.00")])
      let mt4 = try await TestPlugin.connect(port: harness.port)
      _ = try await mt4.handshake(
        serverId: 8, secret: "another secret of server 8", server: ServerIdentity(name: "mt4", platform: 4, utcOffsetMinutes: 0))
      result = .success(try await body(harness, WriteClient(port: harness.httpPort)))
      await mt5.close()
      await mt4.close()
    } catch {
      result = .failure(error)
    }
    await harness.collector.shutdown()
    try? FileManager.default.removeItem(atPath: folder)
    if let database { try await TestPostgres.dropDatabase(database) }
    try result.get()
  }

  /// HTTP requests with a body and headers.
  struct WriteClient {
    let port: Int

    func send(
      _ method: String, _ path: String, body: String = "", key: String? = "key-1", token: String? = writeToken,
      headers: [String: String] = [:]
    ) async throws -> CRMClient.Reply {
      var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
      if let token { text += "Authorization: Bearer \(token)\r\n" }
      if let key { text += "Idempotency-Key: \(key)\r\n" }
      if !body.isEmpty || method == "POST" { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
      for (name, value) in headers { text += "\(name): \(value)\r\n" }
      let bytes = try await RawPeer.exchange(port: port, Array((text + "\r\n" + body).utf8))
      return CRMClient.parse(bytes)
    }

    func deposit(_ amount: String = "\"25.50\"", key: String = "key-1", server: Int = 7, login: UInt64 = login, token: String? = writeToken)
      async throws -> CRMClient.Reply
    {
      try await send(
        "POST", "/v1/servers/\(server)/balance-operations",
        body: "{\"login\":\(login),\"type\":\"deposit\",\"amount\":\(amount),\"comment\":\"wire 42\"}", key: key, token: token)
    }
  }

  static func counts(_ harness: Harness) async throws -> [Int] {
    [try await harness.rowCount(.commands), try await harness.rowCount(.commandAudit), try await harness.rowCount(.changes)]
  }

  @Test func theReadTokenCannotWriteAndNoTokenIs401() async throws {
    try await Self.withWriteCollector { harness, client in
      for token: String? in [nil, "wrong", Self.writeToken + "x"] {
        let reply = try await client.deposit(token: token)
        #expect(reply.status == 401 && reply.errorCode == "unauthorized", "\(token ?? "none")")
        #expect(try await client.send("GET", "/v1/commands/1", token: token).status == 401)
      }
      let read = try await client.deposit(token: Harness.token)
      #expect(read.status == 403 && read.errorCode == "write_token_required")
      let account = try await client.send(
        "POST", "/v1/servers/7/accounts", body: #"{"group":"real","name":"N","currency":"USD","leverage":100}"#,
        token: Harness.token)
      #expect(account.status == 403)
      #expect(try await Self.counts(harness)[0...1] == [0, 0])

      let written = try await client.deposit()
      #expect(written.status == 202)
      let id = try #require(written.json["command_id"] as? Int)
      // Both tokens read commands; the write token reads the rest too.
      #expect(try await client.send("GET", "/v1/commands/\(id)", key: nil, token: Harness.token).status == 200)
      #expect(try await client.send("GET", "/v1/servers", key: nil).status == 200)
      // Other methods on the write paths: 405 with Allow.
      let get = try await client.send("GET", "/v1/servers/7/balance-operations", key: nil)
      #expect(get.status == 405 && get.headers["allow"] == "POST")
      #expect(try await client.send("DELETE", "/v1/commands/\(id)", key: nil).status == 405)
    }
  }

  @Test func withoutAWriteTokenWritesAreDisabled() async throws {
    try await Self.withWriteCollector(writes: false) { harness, client in
      let reply = try await client.deposit(token: Harness.token)
      #expect(reply.status == 403 && reply.errorCode == "writes_disabled")
      #expect(try await client.deposit(token: Self.writeToken).status == 401)
      #expect(try await harness.rowCount(.commands) == 0)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func oneKeyIsOneCommandAndAnotherBodyIs409(backend: LedgerBackendKind) async throws {
    try await Self.withWriteCollector(backend: backend) { harness, client in
      let first = try await client.deposit()
      #expect(first.status == 202, "\(first.body)")
      #expect(first.json["status"] as? String == "pending")
      #expect(first.json["kind"] as? String == "balance_operation")
      #expect(first.json["amount"] as? String == "25.50")
      #expect(first.json["type"] as? String == "deposit")
      #expect(first.json["login"] as? Int == 5001)
      #expect(first.json["server_id"] as? Int == 7)
      #expect(first.json.keys.contains("deal") && first.json["deal"] is NSNull)
      let id = try #require(first.json["command_id"] as? Int)
      for _ in 0..<3 {
        let again = try await client.deposit()
        #expect(again.status == 202 && again.json["command_id"] as? Int == id)
      }
      let other = try await client.deposit("\"25.51\"")
      #expect(other.status == 409 && other.errorCode == "idempotency_key_reused")
      // The key stands for the path too: the same body to another path is another request.
      let elsewhere = try await client.send(
        "POST", "/v1/servers/8/balance-operations",
        body: "{\"login\":5001,\"type\":\"deposit\",\"amount\":\"25.50\",\"comment\":\"wire 42\"}")
      #expect(elsewhere.status == 404 || elsewhere.status == 409)
      #expect(try await Self.counts(harness)[0...1] == [1, 1])
      let audit = try await harness.records("SELECT idempotency_key, body_hash, token_id, result FROM command_audit")
      #expect(audit.first?.text("idempotency_key") == "key-1")
      #expect(audit.first?.text("body_hash")?.count == 64)
      #expect(audit.first?.text("token_id") == String(Self.hex(SHA256.hash(Array(Self.writeToken.utf8))).prefix(16)))

      let account = try await client.send(
        "POST", "/v1/servers/7/accounts",
        body: #"{"group":"real\\usd","name":"New Client","email":"n@example.com","country":"CY","currency":"USD","leverage":500}"#,
        key: "signup-1")
      #expect(account.status == 202, "\(account.body)")
      #expect(account.json["kind"] as? String == "open_account")
      #expect(account.json["login"] is NSNull && account.json["amount"] is NSNull)
    }
  }

  static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

  @Test(arguments: LedgerBackendKind.allCases)
  func everyRefusedWriteIsAClear4xxAndWritesNothing(backend: LedgerBackendKind) async throws {
    try await Self.withWriteCollector(backend: backend) { harness, client in
      let before = try await Self.counts(harness)
      func op(_ fields: String) -> String { "{\(fields)}" }
      let good = #""login":5001,"type":"deposit","comment":"x""#
      let cases: [(String, String, String?, Int, String)] = [
        // (path, body, key, status, code)
        ("/v1/servers/7/balance-operations", op(good + #","amount":"0""#), "k", 422, "invalid_amount"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"0.00""#), "k", 422, "invalid_amount"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"-5.00""#), "k", 422, "invalid_amount"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"1e3""#), "k", 422, "invalid_amount"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"+5""#), "k", 422, "invalid_amount"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":".5""#), "k", 422, "invalid_amount"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":" 5""#), "k", 422, "invalid_amount"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"10.005""#), "k", 422, "too_many_decimals"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"50000.01""#), "k", 422, "amount_too_large"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":25.5"#), "k", 400, "bad_field"),
        ("/v1/servers/7/balance-operations", op(#""login":5001,"type":"interest","amount":"1.00""#), "k", 422, "unsupported_type"),
        ("/v1/servers/7/balance-operations", op(#""login":5001,"type":"nope","amount":"1.00""#), "k", 422, "unsupported_type"),
        ("/v1/servers/8/balance-operations", op(#""login":5001,"type":"bonus","amount":"1.00""#), "k", 422, "unsupported_type"),
        ("/v1/servers/8/balance-operations", op(good + #","amount":"1.00""#), "k", 404, "account_not_found"),
        ("/v1/servers/7/balance-operations", op(#""login":5002,"type":"deposit","amount":"1.00""#), "k", 404, "account_not_found"),
        ("/v1/servers/9/balance-operations", op(good + #","amount":"1.00""#), "k", 404, "server_not_found"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"1.00","extra":1"#), "k", 400, "unknown_field"),
        ("/v1/servers/7/balance-operations", "{\"login\":5001,", "k", 400, "bad_json"),
        ("/v1/servers/7/balance-operations", "[1]", "k", 400, "bad_json"),
        ("/v1/servers/7/balance-operations", "", "k", 400, "bad_json"),
        ("/v1/servers/7/balance-operations", op(#""type":"deposit","amount":"1.00""#), "k", 400, "missing_field"),
        ("/v1/servers/7/balance-operations", op(#""login":"5001","type":"deposit","amount":"1.00""#), "k", 400, "bad_field"),
        ("/v1/servers/7/balance-operations", op(#""login":5001,"type":"deposit","amount":"1.00","comment":""#
          + String(repeating: "x", count: 256) + "\""), "k", 422, "comment_too_long"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"1.00""#), nil, 400, "bad_idempotency_key"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"1.00""#), "", 400, "bad_idempotency_key"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"1.00""#), String(repeating: "k", count: 65), 400, "bad_idempotency_key"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"1.00""#), "a b", 400, "bad_idempotency_key"),
        ("/v1/servers/x/balance-operations", op(good + #","amount":"1.00""#), "k", 400, "bad_parameter"),
        ("/v1/servers/7/balance-operations?x=1", op(good + #","amount":"1.00""#), "k", 400, "unknown_parameter"),
        ("/v1/servers/7/balance-operations", op(good + #","amount":"1.00","pad":""# + String(repeating: "p", count: 17_000) + "\""),
          "k", 413, "body_too_large"),
        ("/v1/servers/7/accounts", #"{"group":"g","name":"n","currency":"USD","leverage":0}"#, "k", 400, "bad_field"),
        ("/v1/servers/7/accounts", #"{"group":"g","name":"n","currency":"USD","leverage":10001}"#, "k", 400, "bad_field"),
        ("/v1/servers/7/accounts", #"{"group":"g","name":"n","currency":"USD","leverage":100,"currency_digits":9}"#, "k", 400, "bad_field"),
        ("/v1/servers/7/accounts", #"{"group":"g","name":"n","currency":"USD"}"#, "k", 400, "missing_field"),
        ("/v1/servers/7/accounts", #"{"group":"g","name":"n","currency":"USD","leverage":100,"x":1}"#, "k", 400, "unknown_field"),
        ("/v1/servers/7/accounts", #"{"group":"g","name":"n","currency":"USDUSDUSDUSDUSDUSD","leverage":100}"#, "k", 422, "field_too_long"),
        ("/v1/servers/7/accounts", #"{"group":"","name":"n","currency":"USD","leverage":100}"#, "k", 422, "invalid_field"),
        ("/v1/servers/9/accounts", #"{"group":"g","name":"n","currency":"USD","leverage":100}"#, "k", 404, "server_not_found"),
      ]
      for (path, body, key, status, code) in cases {
        let reply = try await client.send("POST", path, body: body, key: key)
        #expect(reply.status == status && reply.errorCode == code, "\(path) \(body.prefix(120)) key \(key ?? "none"): \(reply.status) \(reply.body)")
        #expect((reply.json["error"] as? [String: Any])?["message"] as? String != nil)
      }
      #expect(try await Self.counts(harness) == before)
      let missing = try await client.send("GET", "/v1/commands/99", key: nil)
      #expect(missing.status == 404 && missing.errorCode == "command_not_found")
      #expect(try await client.send("GET", "/v1/commands/0", key: nil).status == 400)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func aFinalCommandIsInTheChangeFeedAndItsKeyAnswers200(backend: LedgerBackendKind) async throws {
    try await Self.withWriteCollector(backend: backend) { harness, client in
      let posted = try await client.deposit("\"30\"", key: "final-1")
      #expect(posted.status == 202)
      #expect(posted.json["amount"] as? String == "30.00")  // the account currency's decimals
      let id = try #require(posted.json["command_id"] as? Int)
      let lastChange = try await harness.collector.ledger.lastChangeId()

      let done = try await harness.collector.ledger.finishCommand(
        id: Int64(id), serverId: Harness.serverId, outcome: .done(deal: 777_001, login: nil))
      #expect(done?.status == .done)
      let read = try await client.send("GET", "/v1/commands/\(id)", key: nil, token: Harness.token)
      #expect(read.status == 200)
      #expect(read.json["status"] as? String == "done" && read.json["deal"] as? Int == 777_001)
      #expect(read.json["reason"] is NSNull && read.json["host_result"] is NSNull)
      let again = try await client.deposit("\"30\"", key: "final-1")
      #expect(again.status == 200 && again.json["command_id"] as? Int == id && again.json["status"] as? String == "done")

      let feed = try await client.send("GET", "/v1/changes?after=\(lastChange)", key: nil, token: Harness.token)
      let changes = feed.json["changes"] as? [[String: Any]] ?? []
      #expect(changes.count == 1)
      #expect(changes.first?["kind"] as? String == "command")
      #expect(changes.first?["entity"] as? String == "command")
      #expect(changes.first?["entity_id"] as? Int == id)
      #expect(changes.first?["login"] as? Int == 5001)
      #expect(changes.first?["summary"] as? String == "command \(id) login 5001 done deal 777001")

      // A later outcome changes nothing and adds no change.
      _ = try await harness.collector.ledger.finishCommand(
        id: Int64(id), serverId: Harness.serverId, outcome: .rejected(reason: "no_money", hostResult: 3))
      #expect(try await harness.collector.ledger.lastChangeId() == lastChange + 1)
      #expect(try await client.send("GET", "/v1/commands/\(id)", key: nil).json["status"] as? String == "done")
    }
  }
}
