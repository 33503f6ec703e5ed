import Foundation
import Logging
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// Large streams, checked for exactness. The rate is printed for the README, never asserted.
@Suite("Collector: a sustained stream from several servers lands exactly", .serialized)
struct ThroughputTests {
  /// The same stream into each backend in one run; the ratio of durable rates is
  /// printed (docs/ledger.md, "PostgreSQL"), never asserted.
  @Test func twoHundredThousandEventsFromFourServersLandExactlyOnceOnBothBackends() async throws {
    var rates: [LedgerBackendKind: Double] = [:]
    for backend in LedgerBackendKind.allCases {
      rates[backend] = try await Self.stream(backend: backend)
    }
    if let sqlite = rates[.sqlite], let postgres = rates[.postgres] {
      print("throughput: postgres/sqlite durable events/s = \(Int(postgres)) / \(Int(sqlite)) = \(String(format: "%.2f", postgres / sqlite))")
    }
  }

  /// Streams 4 × 50,000 deals, checks every one landed once, returns durable events/s.
  static func stream(backend: LedgerBackendKind) async throws -> Double {
    let perServer: UInt64 = 50_000
    let servers: [UInt32] = [7, 8, 9, 10]
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var config = CollectorConfiguration()
    config.listenPort = 0
    config.httpPort = nil
    config.databasePath = folder + "/ledger.sqlite"
    let database = backend == .postgres ? try await TestPostgres.createDatabase() : nil
    config.postgresURL = database?.url
    config.secrets = Dictionary(uniqueKeysWithValues: servers.map { ($0, Array("throughput-secret-\($0)".utf8)) })
    // The test's plugins send no heartbeats while they wait for the last ack.
    config.heartbeatInterval = .seconds(120)
    var logger = Logger(label: "throughput")
    logger.logLevel = .warning
    let collector = try await Collector.start(configuration: config, logger: logger)
    let port = collector.protocolAddress.port!

    // Encode first, so that the clock measures the collector, not the test's encoder.
    let frames: [[Message]] = servers.map { server in
      stride(from: UInt64(1), through: perServer, by: 1000).map { first in
        let events = (first..<first + 1000).map { EventFactory.deal(seq: $0, serverId: server) }
        return Message.eventBatch(EventBatch(firstSequence: first, events: events))
      }
    }
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
      for (index, server) in servers.enumerated() {
        group.addTask {
          let plugin = try await TestPlugin.connect(port: port)
          _ = try await plugin.handshake(serverId: server, secret: "throughput-secret-\(server)")
          for frame in frames[index] { try await plugin.send(frame) }
          _ = try await plugin.awaitAck(through: perServer)
          await plugin.close()
        }
      }
      try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let rate = Double(servers.count * Int(perServer)) / seconds
    let commits = collector.metrics.commits.load(ordering: .relaxed)
    let batches = collector.metrics.batchesCommitted.load(ordering: .relaxed)
    let durability = backend == .sqlite ? "synchronous=FULL" : "synchronous_commit=on"
    print("throughput \(backend): \(servers.count * Int(perServer)) events durable (\(durability)) in \(String(format: "%.2f", seconds)) s = \(Int(rate)) events/s; \(commits) commits for \(batches) batches")

    let durable = try await TestLedgerReader.records(collector.ledger, "SELECT id, last_seq FROM servers ORDER BY id")
    #expect(durable.map { $0.integer("id") ?? -1 } == servers.map(Int64.init))
    #expect(durable.allSatisfy { $0.integer("last_seq") == Int64(perServer) })
    #expect(try await collector.ledger.rowCount(.events) == servers.count * Int(perServer))
    #expect(try await collector.ledger.rowCount(.deals) == servers.count * Int(perServer))
    #expect(try await collector.ledger.lastChangeId() >= Int64(servers.count * Int(perServer)))
    await collector.shutdown()
    if let database { try await TestPostgres.dropDatabase(database) }
    return rate
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func oneEventAtATimeIsAcknowledgedAfterItsOwnCommit(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      var latencies: [Duration] = []
      for seq in UInt64(1)...300 {
        let start = ContinuousClock.now
        try await plugin.sendEvents(seq...seq, serverId: Harness.serverId)
        #expect(try await plugin.awaitAck(through: seq).throughSequence == seq)
        latencies.append(ContinuousClock.now - start)
      }
      latencies.sort()
      func micros(_ d: Duration) -> Int { Int(d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000) }
      print("ack round trip \(backend), 1-event batches: p50 \(micros(latencies[150])) µs, p99 \(micros(latencies[296])) µs, max \(micros(latencies[299])) µs")
      #expect(try await harness.rowCount(.events) == 300)
      #expect(harness.collector.metrics.commits.load(ordering: .relaxed) == 300)
      await plugin.close()
    }
  }
}
