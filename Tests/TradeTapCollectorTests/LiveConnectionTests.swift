import Foundation
import Logging
import Testing
import TradeTapCollector
import TradeTapWire

/// Issue 10, finding 9: one live connection per server id (a second is refused
/// with `already connected`; a silent one is replaced), and no collector starts with
/// a secret shorter than 16 bytes.
@Suite("Collector: one live connection per server id, secrets of 16 bytes or more", .serialized)
struct LiveConnectionTests {
  @Test func aSecondConnectionOfALiveServerIdIsRefusedWithItsOwnCodeAndTheFirstCarriesOn() async throws {
    try await withCollector { harness in
      let first = try await TestPlugin.connect(port: harness.port)
      _ = try await first.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await first.sendEvents(1...10, serverId: Harness.serverId)
      _ = try await first.awaitAck(through: 10)

      let second = try await TestPlugin.connect(port: harness.port)
      let refused = await #expect(throws: HandshakeError.self) {
        _ = try await second.handshake(serverId: Harness.serverId, secret: Harness.secret)
      }
      #expect(refused?.errorCode == .alreadyConnected)
      #expect(refused?.errorCode.rawValue == 10)
      #expect(try await second.receive() == nil)
      // Another server id is unaffected.
      let eight = try await TestPlugin.connect(port: harness.port)
      _ = try await eight.handshake(serverId: 8, secret: "another secret of server 8")

      try await first.sendEvents(11...20, serverId: Harness.serverId)
      #expect(try await first.awaitAck(through: 20).throughSequence == 20)
      // Once the first has closed, the server id is free at once.
      await first.close()
      var welcome: Welcome?
      for _ in 0..<20 where welcome == nil {
        let next = try await TestPlugin.connect(port: harness.port)
        welcome = try? await next.handshake(serverId: Harness.serverId, secret: Harness.secret)
        if welcome == nil { try await Task.sleep(for: .milliseconds(50)) }
      }
      #expect(welcome?.lastDurableSequence == 20)
      let samples = harness.collector.metrics.prometheusText()
      #expect(samples.contains("tradetap_handshake_refusals_total{reason=\"already_connected\"} 1"), "\(samples)")
      await eight.close()
    }
  }

  @Test func aConnectionSilentForTwoHeartbeatIntervalsIsReplacedByANewOne() async throws {
    // Heartbeat 2 s: silent 4 s proves it gone (a live plugin sends every interval);
    // the collector itself would drop it at 6 s.
    try await withCollector(heartbeat: .seconds(2)) { harness in
      let silent = try await TestPlugin.connect(port: harness.port)
      _ = try await silent.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await silent.sendEvents(1...5, serverId: Harness.serverId)
      _ = try await silent.awaitAck(through: 5)
      let started = ContinuousClock.now
      try await Task.sleep(for: .milliseconds(4_400))
      let newcomer = try await TestPlugin.connect(port: harness.port)
      let welcome = try await newcomer.handshake(serverId: Harness.serverId, secret: Harness.secret)
      let replacedAfter = ContinuousClock.now - started
      #expect(welcome.lastDurableSequence == 5)
      // The silent one was closed with `already connected`, before the 6 s idle drop.
      var lastFrame: Message?
      while let message = try await silent.receive() { lastFrame = message }
      guard case .error(let error)? = lastFrame else {
        Issue.record("the replaced connection got no error frame (dropped by the idle timeout instead?), last \(String(describing: lastFrame))")
        return
      }
      #expect(error.code == .alreadyConnected)
      #expect(replacedAfter < .seconds(6))
      try await newcomer.sendEvents(6...8, serverId: Harness.serverId)
      #expect(try await newcomer.awaitAck(through: 8).throughSequence == 8)
      await newcomer.close()
    }
  }

  @Test func aCollectorRefusesToStartWithASecretShorterThanSixteenBytesNamingTheServerNotTheSecret() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var config = CollectorConfiguration()
    config.listenPort = 0
    config.httpPort = nil
    config.databasePath = folder + "/ledger.sqlite"
    config.secrets = [7: Array("sixteen-bytes-ok".utf8), 9: Array("fifteen-bytes!!".utf8)]
    let error = await #expect(throws: CollectorError.self) {
      _ = try await Collector.start(configuration: config, logger: Logger(label: "test.collector"))
    }
    #expect(error == .weakSecret(serverId: 9, length: 15))
    let text = error.map { "\($0)" } ?? ""
    #expect(text.contains("server id 9") && !text.contains("fifteen-bytes"), "\(text)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/ledger.sqlite"), "nothing is opened first")
  }
}
