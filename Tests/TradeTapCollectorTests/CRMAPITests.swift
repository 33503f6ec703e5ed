import Foundation
import GRDB
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapWire

/// The CRM HTTP API of a real collector (port 0, real SQLite, a real plugin peer
/// delivering events over the protocol, real HTTP requests over sockets).
@Suite("CRM HTTP API", .serialized)
struct CRMAPITests {
  static let login: UInt64 = 5001
  static let trickyName = "Robert'); DROP TABLE accounts;--"
  static let trickyComment = "<script>alert(\"x\")</script> & \"q\" \\ ü\n%00 ' OR 1=1"

  /// One account, 25 trades deals one minute apart, a deposit, two open positions: 29 events.
  static func seed(_ plugin: TestPlugin) async throws {
    var events = [CRMEvents.user(seq: 1, login: login, name: trickyName, balance: "10250.55", comment: trickyComment)]
    for i in 1...25 {
      events.append(CRMEvents.deal(
        seq: UInt64(1 + i), deal: UInt64(i), login: login, second: Int64(i) * 60,
        comment: i == 1 ? trickyComment : "deal \(i)"))
    }
    events.append(CRMEvents.deal(seq: 27, deal: 26, login: login, second: 1600, action: .balance, profit: "1000.00", comment: "deposit"))
    events.append(CRMEvents.position(seq: 28, position: 900, login: login, second: 100))
    events.append(CRMEvents.position(seq: 29, position: 901, login: login, second: 200))
    try await plugin.deliver(events)
  }

  static func withSeededCollector(
    backend: LedgerBackendKind = .sqlite, webhooks: [String] = [],
    _ body: (Harness, CRMClient, TestPlugin) async throws -> Void
  ) async throws {
    try await withCollector(backend: backend, webhooks: webhooks) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await seed(plugin)
      try await body(harness, CRMClient(port: harness.httpPort), plugin)
      await plugin.close()
    }
  }

  @Test func everyRouteAnswers401WithoutTheTokenOrWithAWrongOne() async throws {
    try await Self.withSeededCollector { _, client, _ in
      let routes = [
        "/healthz", "/metrics", "/v1/servers", "/v1/accounts/7/5001", "/v1/accounts/7/5001/deals", "/v1/accounts/7/5001/positions",
        "/v1/accounts/7/5001/balance-operations", "/v1/accounts/7/5001/trades", "/v1/changes", "/v1/changes/stream",
        "/v1/no-such-route",
      ]
      for route in routes {
        for token: String? in [nil, "wrong", Harness.token + "x", String(Harness.token.dropLast())] {
          let reply = try await client.get(route, token: .some(token))
          #expect(reply.status == 401, "\(route) with \(token ?? "no token")")
          #expect(reply.errorCode == "unauthorized")
          #expect(reply.headers["www-authenticate"] == "Bearer")
        }
      }
      let health = try await client.get("/healthz")
      #expect(health.status == 200 && health.body == "ok\n")
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func anAccountCarriesBalanceCreditCurrencyGroupMarginModeAndOpenPositions(backend: LedgerBackendKind) async throws {
    try await Self.withSeededCollector(backend: backend) { _, client, _ in
      let reply = try await client.get("/v1/accounts/7/5001")
      #expect(reply.status == 200)
      #expect(reply.headers["content-type"] == "application/json")
      let account = reply.json
      #expect(account["balance"] as? String == "10250.55")
      #expect(account["credit"] as? String == "50.00")
      #expect(account["currency"] as? String == "EUR")
      #expect(account["group"] as? String == "real\\pro")
      #expect(account["margin_mode"] as? Int == 2)
      #expect(account["margin_mode_name"] as? String == "hedging")
      #expect(account["open_positions"] as? Int == 2)
      #expect(account["registration_utc"] as? String == "2025-11-24T16:00:00.000Z")
      #expect(account["registration_msc"] as? Int == 1_764_000_000_000 + 120 * 60_000)
      #expect(account["deleted"] as? Bool == false)

      let missing = try await client.get("/v1/accounts/7/999")
      #expect(missing.status == 404 && missing.errorCode == "account_not_found")
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func dealsPageThroughByCursorWithoutLossOrRepeatAndHonourTheTimeRange(backend: LedgerBackendKind) async throws {
    try await Self.withSeededCollector(backend: backend) { _, client, _ in
      var deals: [Int] = []
      var cursor: String? = nil
      var pages = 0
      repeat {
        let reply = try await client.get("/v1/accounts/7/5001/deals?limit=10" + (cursor.map { "&cursor=\($0)" } ?? ""))
        #expect(reply.status == 200)
        let items = reply.json["items"] as? [[String: Any]] ?? []
        deals += items.compactMap { $0["deal"] as? Int }
        cursor = reply.json["next_cursor"] as? String
        pages += 1
      } while cursor != nil && pages < 10
      #expect(deals == Array(1...26))
      #expect(pages == 3)

      // Deals 5...9 happen at minutes 5...9 after 16:00 UTC; `to` is exclusive.
      let range = try await client.get("/v1/accounts/7/5001/deals?from=2025-11-24T16:05:00Z&to=2025-11-24T16:10:00.000Z")
      let items = range.json["items"] as? [[String: Any]] ?? []
      #expect(items.compactMap { $0["deal"] as? Int } == [5, 6, 7, 8, 9])
      #expect(items.first?["profit"] as? String == "0.00")
      #expect(items.first?["price"] as? String == "1.08345")
      #expect(items.first?["time_utc"] as? String == "2025-11-24T16:05:00.000Z")
      #expect(range.json.keys.contains("next_cursor"))

      let deposits = try await client.get("/v1/accounts/7/5001/balance-operations")
      let operations = deposits.json["items"] as? [[String: Any]] ?? []
      #expect(operations.count == 1)
      #expect(operations.first?["amount"] as? String == "1000.00")
      #expect(operations.first?["type"] as? String == "deposit")

      let positions = try await client.get("/v1/accounts/7/5001/positions?limit=1")
      #expect((positions.json["items"] as? [[String: Any]])?.first?["position"] as? Int == 900)
      let rest = try await client.get("/v1/accounts/7/5001/positions?cursor=\(positions.json["next_cursor"] as? String ?? "")")
      #expect((rest.json["items"] as? [[String: Any]])?.compactMap { $0["position"] as? Int } == [901])
      #expect(rest.json["next_cursor"] is NSNull)
    }
  }

  @Test func badParametersAreRefusedWithA4xxCodeAndMessage() async throws {
    try await Self.withSeededCollector { _, client, _ in
      let cases: [(String, Int, String)] = [
        ("/v1/accounts/7/5001/deals?limit=0", 400, "bad_parameter"),
        ("/v1/accounts/7/5001/deals?limit=5000", 400, "limit_too_large"),
        ("/v1/accounts/7/5001/deals?limit=ten", 400, "bad_parameter"),
        ("/v1/accounts/7/5001/deals?from=yesterday", 400, "bad_parameter"),
        ("/v1/accounts/7/5001/deals?from=2025-11-24T25:00:00Z", 400, "bad_parameter"),
        ("/v1/accounts/7/5001/deals?from=2025-11-25&to=2025-11-24", 400, "bad_parameter"),
        ("/v1/accounts/7/5001/deals?cursor=abc", 400, "bad_parameter"),
        ("/v1/accounts/7/5001/deals?cursor=" + String(repeating: "9", count: 300), 400, "parameter_too_long"),
        ("/v1/accounts/7/5001/deals?sort=desc", 400, "unknown_parameter"),
        ("/v1/accounts/7/5001/deals?limit=1&limit=2", 400, "bad_parameter"),
        ("/v1/accounts/seven/5001", 400, "bad_parameter"),
        ("/v1/accounts/7/-1/deals", 400, "bad_parameter"),
        ("/v1/accounts/99999999999/5001", 400, "bad_parameter"),
        ("/v1/changes?after=-5", 400, "bad_parameter"),
        ("/v1/changes?after=1%27%20OR%201=1", 400, "bad_parameter"),
        ("/v1/servers?verbose=1", 400, "unknown_parameter"),
        ("/v1/accounts/7", 404, "not_found"),
        ("/v2/servers", 404, "not_found"),
      ]
      for (path, status, code) in cases {
        let reply = try await client.get(path)
        #expect(reply.status == status, "\(path)")
        #expect(reply.errorCode == code, "\(path): \(reply.body)")
        #expect(((reply.json["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false, "\(path)")
      }
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func theChangeFeedResumesFromACursorWithStableIds(backend: LedgerBackendKind) async throws {
    try await Self.withSeededCollector(backend: backend) { _, client, plugin in
      let first = try await client.get("/v1/changes?limit=10")
      let firstChanges = first.json["changes"] as? [[String: Any]] ?? []
      #expect(firstChanges.compactMap { $0["seq"] as? Int } == Array(1...10))
      #expect(first.json["has_more"] as? Bool == true)
      let cursor = first.json["next_cursor"] as? String ?? ""
      #expect(firstChanges.first?["kind"] as? String == "user_add")
      #expect(firstChanges.first?["entity"] as? String == "account")
      #expect(firstChanges.dropFirst().first?["entity"] as? String == "deal")
      #expect(firstChanges.dropFirst().first?["entity_id"] as? Int == 1)
      #expect(firstChanges.dropFirst().first?["login"] as? Int == 5001)

      // Resuming from the cursor gives the rest, in order, once.
      let rest = try await client.get("/v1/changes?after=\(cursor)&limit=1000")
      #expect((rest.json["changes"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int } == Array(11...29))
      #expect(rest.json["has_more"] as? Bool == false)
      let end = rest.json["next_cursor"] as? String ?? ""

      // New events after the end appear after it; an old cursor sees the same ids again.
      try await plugin.deliver([CRMEvents.deal(seq: 30, deal: 27, login: Self.login, second: 1700)])
      let next = try await client.get("/v1/changes?after=\(end)")
      #expect((next.json["changes"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int } == [30])
      let again = try await client.get("/v1/changes?limit=10")
      #expect(
        (again.json["changes"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
          == firstChanges.compactMap { $0["id"] as? Int })
      // A resent (duplicate) event adds no change.
      try await plugin.deliver([CRMEvents.deal(seq: 30, deal: 27, login: Self.login, second: 1700)])
      #expect((try await client.get("/v1/changes?after=\(end)").json["changes"] as? [Any])?.count == 1)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func theEventStreamDeliversAChangeMadeAfterItOpened(backend: LedgerBackendKind) async throws {
    try await Self.withSeededCollector(backend: backend) { _, client, plugin in
      let end = try await client.get("/v1/changes?limit=1000").json["next_cursor"] as? String ?? ""
      let (status, body) = try await client.stream(
        "/v1/changes/stream?after=\(end)",
        opened: {
          try await plugin.deliver([CRMEvents.deal(seq: 30, deal: 4242, login: Self.login, second: 1800)])
        },
        until: { $0.contains("\"seq\":30") })
      #expect(status == 200)
      #expect(body.contains("event: change\n"))
      let data = body.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }
      #expect(data.count == 1)
      let change = (try? JSONSerialization.jsonObject(with: Data(data[0].dropFirst(6).utf8))) as? [String: Any]
      #expect(change?["entity_id"] as? Int == 4242)
      #expect(body.contains("id: \(change?["id"] as? Int ?? -1)\n"))

      // Without a cursor the stream starts at the beginning; a reconnecting
      // EventSource's Last-Event-ID resumes after that id.
      let (_, replay) = try await client.stream(
        "/v1/changes/stream", opened: {}, until: { $0.contains("\"seq\":30") })
      #expect(replay.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.count == 30)
      let (_, resumed) = try await client.stream(
        "/v1/changes/stream?after=0", headers: ["Last-Event-ID": end], opened: {}, until: { $0.contains("\"seq\":30") })
      #expect(resumed.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.count == 1)
    }
  }

  @Test func shutdownEndsAnOpenEventStream() async throws {
    let harness = try await Harness.start()
    let client = CRMClient(port: harness.httpPort)
    let clock = ContinuousClock()
    var stopped: Duration = .zero
    let (status, body) = try await client.stream(
      "/v1/changes/stream",
      opened: {
        let start = clock.now
        await harness.collector.shutdown()
        stopped = clock.now - start
      },
      until: { _ in false })
    #expect(status == 200)
    #expect(body.hasPrefix("retry: 1000\n\n"))
    #expect(stopped < .seconds(5))
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func stringsWithQuotesHTMLAndSQLComeBackVerbatimAndInert(backend: LedgerBackendKind) async throws {
    try await Self.withSeededCollector(backend: backend) { harness, client, _ in
      let account = try await client.get("/v1/accounts/7/5001")
      #expect(account.json["name"] as? String == Self.trickyName)
      #expect(account.json["comment"] as? String == Self.trickyComment)
      #expect(!account.body.contains("<script>"))
      #expect(account.headers["x-content-type-options"] == "nosniff")
      let deals = try await client.get("/v1/accounts/7/5001/deals?limit=1")
      #expect((deals.json["items"] as? [[String: Any]])?.first?["comment"] as? String == Self.trickyComment)
      #expect(try await harness.rowCount(.accounts) == 1)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func serversListConnectionStateAndTheDurableSequence(backend: LedgerBackendKind) async throws {
    try await Self.withSeededCollector(backend: backend) { _, client, plugin in
      let servers = try await client.get("/v1/servers").json["servers"] as? [[String: Any]] ?? []
      #expect(servers.count == 1)
      #expect(servers.first?["server_id"] as? Int == 7)
      #expect(servers.first?["last_seq"] as? Int == 29)
      #expect(servers.first?["connection"] as? String == "connected")
      #expect(servers.first?["last_event_received_utc"] is String)
      #expect(servers.first?.keys.contains("lag_seconds") == true)
      #expect(servers.first?.keys.contains("last_reconciliation_utc") == true)
      await plugin.close()
      var state = ""
      for _ in 0..<50 where state != "disconnected" {
        try await Task.sleep(for: .milliseconds(100))
        state = (try await client.get("/v1/servers").json["servers"] as? [[String: Any]])?.first?["connection"] as? String ?? ""
      }
      #expect(state == "disconnected")
    }
  }

  @Test func metricsKeepEveryExistingName() async throws {
    try await Self.withSeededCollector { _, client, _ in
      let reply = try await client.get("/metrics")
      #expect(reply.status == 200)
      #expect(reply.headers["content-type"]?.hasPrefix("text/plain") == true)
      for name in [
        "tradetap_events_received_total 29\n", "tradetap_events_committed_total 29\n", "tradetap_gaps_total",
        "tradetap_events_quarantined_total", "tradetap_server_last_seq{server_id=\"7\"} 29.0\n",
        "tradetap_hook_to_durable_seconds",
      ] {
        #expect(reply.body.contains(name), "\(name)")
      }
    }
  }
}
