import Foundation
import GRDB
import Logging
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// Large streams, checked for exactness. The rate is printed for the README, never asserted.
@Suite("Collector: a sustained stream from several servers lands exactly", .serialized)
struct ThroughputTests {
  @Test func twoHundredThousandEventsFromFourServersLandExactlyOnce() async throws {
    let perServer: UInt64 = 50_000
    let servers: [UInt32] = [7, 8, 9, 10]
    let folder = try Harness.folder()
    var config = CollectorConfiguration()
    config.listenPort = 0
    config.httpPort = nil
    config.databasePath = folder + "/ledger.sqlite"
    config.secrets = Dictionary(uniqueKeysWithValues: servers.map { ($0, Array("secret-\($0)".utf8)) })
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
          _ = try await plugin.handshake(serverId: server, secret: "secret-\(server)")
          for frame in frames[index] { try await plugin.send(frame) }
          _ = try await plugin.awaitAck(through: perServer)
          await plugin.close()
        }
      }
      try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let commits = collector.metrics.commits.load(ordering: .relaxed)
    let batches = collector.metrics.batchesCommitted.load(ordering: .relaxed)
    print("throughput: \(servers.count * Int(perServer)) events durable (synchronous=FULL) in \(String(format: "%.2f", seconds)) s = \(Int(Double(servers.count * Int(perServer)) / seconds)) events/s; \(commits) commits for \(batches) batches")
    await collector.shutdown()

    let ledger = try Ledger(path: folder + "/ledger.sqlite")
    for server in servers {
      #expect(try ledger.writer.durableSequence(serverId: server) == perServer)
    }
    #expect(try ledger.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM events") } == servers.count * Int(perServer))
    #expect(try ledger.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM deals") } == servers.count * Int(perServer))
  }

  @Test func oneEventAtATimeIsAcknowledgedAfterItsOwnCommit() async throws {
    try await withCollector { harness in
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
      print("ack round trip, 1-event batches, synchronous=FULL: p50 \(micros(latencies[150])) µs, p99 \(micros(latencies[296])) µs, max \(micros(latencies[299])) µs")
      #expect(try harness.count("events") == 300)
      #expect(harness.collector.metrics.commits.load(ordering: .relaxed) == 300)
      await plugin.close()
    }
  }
}
