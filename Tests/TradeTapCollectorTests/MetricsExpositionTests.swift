import Foundation
import GRDB
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapWire

/// `GET /metrics` (swift-prometheus registry, one per collector) and `GET /healthz`
/// against a real collector: the token is required, the exposition parses, and every
/// required series holds the value a known sequence of deliveries must give.
@Suite("Collector metrics: Prometheus exposition and the token on every route", .serialized)
struct MetricsExpositionTests {
  @Test func healthzAndMetricsAnswer401WithoutTheTokenOrWithAWrongOne() async throws {
    try await withCollector { harness in
      for path in ["/healthz", "/metrics"] {
        for token: String? in [nil, "wrong", Harness.token + "x", String(Harness.token.dropLast())] {
          let (status, _) = try await RawPeer.httpGet(port: harness.httpPort, path: path, token: token)
          #expect(status == 401, "\(path) with \(token ?? "no token")")
        }
      }
      let (status, body) = try await RawPeer.httpGet(port: harness.httpPort, path: "/healthz", token: Harness.token)
      #expect(status == 200 && body == "ok\n")
    }
  }

  @Test func everyRequiredSeriesCountsAKnownRunExactly() async throws {
    try await withCollector { harness in
      // Server 7: 1…20, then 11…20 again (10 duplicates), then 25…30 (21…24 never arrive).
      let seven = try await TestPlugin.connect(port: harness.port)
      _ = try await seven.handshake(serverId: 7, secret: Harness.secret)
      try await seven.send(Self.batch(1...20, serverId: 7))
      _ = try await seven.awaitAck(through: 20)
      try await seven.send(Self.batch(11...20, serverId: 7))
      _ = try await seven.awaitAck(through: 20)
      try await seven.send(Self.batch(25...30, serverId: 7))
      _ = try await seven.awaitAck(through: 30)
      // Server 8: 1…5.
      let eight = try await TestPlugin.connect(port: harness.port)
      _ = try await eight.handshake(serverId: 8, secret: "another secret of server 8")
      try await eight.send(Self.batch(1...5, serverId: 8))
      _ = try await eight.awaitAck(through: 5)
      // A handshake with a wrong secret.
      let intruder = try await TestPlugin.connect(port: harness.port)
      await #expect(throws: (any Error).self) { _ = try await intruder.handshake(serverId: 7, secret: "guess") }
      await intruder.close()
      try await Self.waitFor(harness) { $0["tradetap_connections_open"] == 2 }

      let metrics = try await Self.scrape(harness)
      let expected: [String: Double] = [
        "tradetap_events_received_total": 41,  // 20 + 10 + 6 + 5
        "tradetap_events_committed_total": 31,
        "tradetap_events_duplicate_total": 10,
        "tradetap_events_acked_total": 35,  // 30 + 5 sequence numbers
        "tradetap_events_quarantined_total": 0,
        "tradetap_gaps_total": 1,
        "tradetap_gap_sequences_total": 4,
        "tradetap_server_events_received_total{server_id=\"7\"}": 36,
        "tradetap_server_events_received_total{server_id=\"8\"}": 5,
        "tradetap_server_events_committed_total{server_id=\"7\"}": 26,
        "tradetap_server_events_committed_total{server_id=\"8\"}": 5,
        "tradetap_server_last_seq{server_id=\"7\"}": 30,
        "tradetap_server_last_seq{server_id=\"8\"}": 5,
        "tradetap_server_lag_seconds{server_id=\"7\"}": 0,
        "tradetap_server_lag_seconds{server_id=\"8\"}": 0,
        "tradetap_connections_open": 2,
        "tradetap_connections_refused_total": 1,
        "tradetap_handshake_refusals_total{reason=\"wrong_secret\"}": 1,
        "tradetap_connections_refused_by_reason_total{reason=\"wrong_secret\"}": 1,
        "tradetap_reconciliation_divergences_total": 0,
        // Every decoded event was stamped just before sending: all within 30 s.
        "tradetap_hook_to_decoded_seconds_count": 31,
        "tradetap_hook_to_decoded_seconds_bucket{le=\"30.0\"}": 31,
        "tradetap_hook_to_decoded_seconds_bucket{le=\"+Inf\"}": 31,
        "tradetap_hook_to_durable_seconds_count": 31,
        "tradetap_hook_to_durable_seconds_bucket{le=\"30.0\"}": 31,
        "tradetap_hook_latency_seconds_bucket{stage=\"durable\",le=\"+Inf\"}": 31,
      ]
      for (series, value) in expected.sorted(by: { $0.key < $1.key }) {
        #expect(metrics.samples[series] == value, "\(series) = \(metrics.samples[series].map { "\($0)" } ?? "absent")")
      }
      #expect(metrics.types["tradetap_hook_to_durable_seconds"] == "histogram")
      #expect(metrics.types["tradetap_hook_to_decoded_seconds"] == "histogram")
      #expect(metrics.types["tradetap_server_lag_seconds"] == "gauge")
      #expect(metrics.types["tradetap_events_received_total"] == "counter")
      // Durable comes after decoded: its sum of latencies is at least as large.
      let decodedSum = try #require(metrics.samples["tradetap_hook_to_decoded_seconds_sum"])
      let durableSum = try #require(metrics.samples["tradetap_hook_to_durable_seconds_sum"])
      #expect(decodedSum > 0 && durableSum >= decodedSum)
      // The in-process counters agree with the exposition.
      #expect(harness.collector.metrics.eventsCommitted.value == 31)

      // The API shows the same lag; a server that disconnects has none (unknown).
      let connected = try await Self.servers(harness)
      #expect(connected[7] == .some(0) && connected[8] == .some(0))
      await eight.close()
      try await Self.waitFor(harness) { $0["tradetap_connections_open"] == 1 }
      let after = try await Self.scrape(harness)
      #expect(after.samples["tradetap_server_lag_seconds{server_id=\"8\"}"] == nil)
      #expect(after.samples["tradetap_server_lag_seconds{server_id=\"7\"}"] == 0)
      let servers = try await Self.servers(harness)
      #expect(servers[8] == .some(nil))
      await seven.close()
    }
  }

  @Test func twoServersStreamingAtOnceAreCountedPerServerExactly() async throws {
    try await withCollector { harness in
      // Concurrent batches of two servers share ledger transactions (group commit):
      // the per-server split of the ledger's one total must still be exact.
      try await withThrowingTaskGroup(of: Void.self) { group in
        for (server, secret) in [(UInt32(7), Harness.secret), (UInt32(8), "another secret of server 8")] {
          group.addTask {
            let plugin = try await TestPlugin.connect(port: harness.port)
            _ = try await plugin.handshake(serverId: server, secret: secret)
            try await plugin.sendEvents(1...3_000, serverId: server, batchSize: 25)
            _ = try await plugin.awaitAck(through: 3_000)
            await plugin.close()
          }
        }
        try await group.waitForAll()
      }
      let samples = try await Self.scrape(harness).samples
      #expect(samples["tradetap_events_committed_total"] == 6_000)
      #expect(samples["tradetap_server_events_committed_total{server_id=\"7\"}"] == 3_000)
      #expect(samples["tradetap_server_events_committed_total{server_id=\"8\"}"] == 3_000)
      #expect(samples["tradetap_gap_sequences_total"] == 0)
      #expect(samples["tradetap_gaps_total"] == 0)
    }
  }

  @Test func lagGrowsWhileTheLedgerCannotCommitAndFallsToZeroOnceItHas() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: 7, secret: Harness.secret)
      try await plugin.sendEvents(1...10, serverId: 7)
      _ = try await plugin.awaitAck(through: 10)
      // Another connection holds SQLite's write lock until released: commits wait.
      let blocker = try DatabaseQueue(path: harness.folder + "/ledger.sqlite")
      let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
      let holder = Task {
        try await blocker.writeWithoutTransaction { db in
          try db.inTransaction(.immediate) {
            locked.signal()
            release.wait()
            return .commit
          }
        }
      }
      locked.wait()
      try await plugin.sendEvents(11...20, serverId: 7)
      try await Self.waitFor(harness) { ($0["tradetap_server_lag_seconds{server_id=\"7\"}"] ?? 0) >= 0.2 }
      let stalled = try await Self.scrape(harness).samples
      #expect(stalled["tradetap_events_committed_total"] == 10)
      let lag = try #require(try await Self.servers(harness)[7] ?? nil)
      #expect(lag >= 0.2)
      release.signal()
      try await holder.value
      _ = try await plugin.awaitAck(through: 20)
      try await Self.waitFor(harness) { $0["tradetap_server_lag_seconds{server_id=\"7\"}"] == 0 }
      #expect(try await Self.servers(harness)[7] == .some(0))
      await plugin.close()
    }
  }

  @Test func twoCollectorsInOneProcessKeepTheirOwnCounts() async throws {
    try await withCollector { first in
      try await withCollector { second in
        let plugin = try await TestPlugin.connect(port: first.port)
        _ = try await plugin.handshake(serverId: 7, secret: Harness.secret)
        try await plugin.sendEvents(1...12, serverId: 7)
        _ = try await plugin.awaitAck(through: 12)
        #expect(try await Self.scrape(first).samples["tradetap_events_committed_total"] == 12)
        #expect(try await Self.scrape(second).samples["tradetap_events_committed_total"] == 0)
        await plugin.close()
      }
    }
  }

  // MARK: - Helpers

  /// A batch of deals stamped with this machine's monotonic clock, as the journal reader does.
  static func batch(_ range: ClosedRange<UInt64>, serverId: UInt32) -> Message {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let stamp = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    let events = range.map { seq -> Event in
      var event = EventFactory.deal(seq: seq, serverId: serverId)
      event.hookTimestampNanos = stamp
      return event
    }
    return .eventBatch(EventBatch(firstSequence: range.lowerBound, events: events))
  }

  struct Exposition {
    var samples: [String: Double] = [:]
    var types: [String: String] = [:]
  }

  /// Parses the text format strictly: every line is a comment, `# HELP`/`# TYPE`, or
  /// `name{labels} value`, and every sample belongs to a family with a `# TYPE`.
  static func scrape(_ harness: Harness) async throws -> Exposition {
    let (status, body) = try await RawPeer.httpGet(port: harness.httpPort, path: "/metrics", token: Harness.token)
    try #require(status == 200)
    var exposition = Exposition()
    let sample = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? (\S+)$"#)
    for line in body.split(separator: "\n") {
      if line.hasPrefix("# TYPE ") {
        let parts = line.split(separator: " ")
        try #require(parts.count == 4, "\(line)")
        exposition.types[String(parts[2])] = String(parts[3])
        continue
      }
      if line.hasPrefix("#") { continue }
      let match = try #require(try sample.wholeMatch(in: line), "not a sample: \(line)")
      let key = String(line[..<line.lastIndex(of: " ")!])
      let text = line[line.index(after: line.lastIndex(of: " ")!)...]
      let value = try #require(text == "+Inf" ? Double.infinity : Double(text), "value of \(line)")
      #expect(exposition.samples[key] == nil, "duplicate sample \(key)")
      exposition.samples[key] = value
      _ = match
    }
    let suffix = try Regex("_(bucket|sum|count)$")
    for key in exposition.samples.keys {
      let name = String(key.prefix { $0 != "{" })
      let family = [name, name.replacing(suffix, with: "")]
      #expect(family.contains { exposition.types[$0] != nil }, "\(name) has no # TYPE")
    }
    return exposition
  }

  static func waitFor(_ harness: Harness, _ condition: ([String: Double]) -> Bool) async throws {
    for _ in 0..<100 {
      if condition(try await scrape(harness).samples) { return }
      try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("condition not met within 5 s")
  }

  /// `lag_seconds` of each server in `GET /v1/servers` (`.some(nil)`: JSON null).
  static func servers(_ harness: Harness) async throws -> [UInt32: Double?] {
    let (status, body) = try await RawPeer.httpGet(port: harness.httpPort, path: "/v1/servers", token: Harness.token)
    try #require(status == 200)
    let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    var lags: [UInt32: Double?] = [:]
    for server in json["servers"] as? [[String: Any]] ?? [] {
      guard let id = server["server_id"] as? Int else { continue }
      lags[UInt32(id)] = server["lag_seconds"] is NSNull ? .some(nil) : (server["lag_seconds"] as? Double)
    }
    return lags
  }
}
