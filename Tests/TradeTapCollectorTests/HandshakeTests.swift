import GRDB
import Testing
import TradeTapCollector
import TradeTapWire

@Suite("Collector: only holders of the secret get in", .serialized)
struct HandshakeTests {
  @Test func aPluginWithTheSecretIsWelcomedWithTheResumePoint() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      let welcome = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      #expect(welcome.lastDurableSequence == 0)
      #expect(welcome.heartbeatMillis == 5000)
      await plugin.close()
    }
  }

  @Test func theHelloServerIdentityFillsTheServersRow() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      let identity = ServerIdentity(name: "Broker Live 1", platform: 5, utcOffsetMinutes: 180)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret, server: identity)
      let row = try harness.collector.ledger.read {
        try Row.fetchOne($0, sql: "SELECT name, platform, utc_offset_minutes FROM servers WHERE id = ?",
                         arguments: [Int64(Harness.serverId)])
      }
      #expect(row?["name"] as String? == "Broker Live 1")
      #expect(row?["platform"] as Int? == 5)
      #expect(row?["utc_offset_minutes"] as Int? == 180)
      await plugin.close()
    }
  }

  @Test func aWrongSecretIsRefusedWithItsErrorAndClosed() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      let error = await #expect(throws: HandshakeError.self) {
        _ = try await plugin.handshake(serverId: Harness.serverId, secret: "guessed")
      }
      #expect(error?.errorCode == .wrongSecret)
      #expect(try await plugin.receive() == nil)
      #expect(try harness.count("servers") == 0)
    }
  }

  @Test func anUnknownServerIdIsRefusedWithItsError() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      let error = await #expect(throws: HandshakeError.self) {
        _ = try await plugin.handshake(serverId: 99, secret: Harness.secret)
      }
      #expect(error?.errorCode == .unknownServerId)
      #expect(try await plugin.receive() == nil)
    }
  }

  @Test func aReplayedHandshakeIsRefusedWithItsError() async throws {
    try await withCollector { harness in
      let nonce = [UInt8](repeating: 0x42, count: 32)
      let first = try await TestPlugin.connect(port: harness.port)
      _ = try await first.handshake(serverId: Harness.serverId, secret: Harness.secret, nonce: nonce)
      let replay = try await TestPlugin.connect(port: harness.port)
      let error = await #expect(throws: HandshakeError.self) {
        _ = try await replay.handshake(serverId: Harness.serverId, secret: Harness.secret, nonce: nonce)
      }
      #expect(error?.errorCode == .replayedHandshake)
      await first.close()
    }
  }

  @Test func eventsBeforeTheHandshakeAreAProtocolViolation() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      try await plugin.sendEvents(1...3, serverId: Harness.serverId)
      guard case .error(let error) = try await plugin.receive() else {
        Issue.record("expected an error frame")
        return
      }
      #expect(error.code == .protocolViolation)
      #expect(try await plugin.receive() == nil)
      #expect(try harness.count("events") == 0)
    }
  }
}
