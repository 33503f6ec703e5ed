import Testing
import TradeTapCollector
import TradeTapWire

@Suite("Collector: only holders of the secret get in", .serialized)
struct HandshakeTests {
  @Test(arguments: LedgerBackendKind.allCases) func aPluginWithTheSecretIsWelcomedWithTheResumePoint(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      let welcome = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      #expect(welcome.lastDurableSequence == 0)
      #expect(welcome.heartbeatMillis == 5000)
      await plugin.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func theHelloServerIdentityFillsTheServersRow(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      let identity = ServerIdentity(name: "Broker Live 1", platform: 5, utcOffsetMinutes: 180)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret, server: identity)
      let row = try await harness.records("SELECT id, name, platform, utc_offset_minutes FROM servers").first
      #expect(row?.integer("id") == Int64(Harness.serverId))
      #expect(row?.text("name") == "Broker Live 1")
      #expect(row?.integer("platform") == 5)
      #expect(row?.integer("utc_offset_minutes") == 180)
      await plugin.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func aWrongSecretIsRefusedWithItsErrorAndClosed(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      let error = await #expect(throws: HandshakeError.self) {
        _ = try await plugin.handshake(serverId: Harness.serverId, secret: "guessed")
      }
      #expect(error?.errorCode == .wrongSecret)
      #expect(try await plugin.receive() == nil)
      #expect(try await harness.rowCount(.servers) == 0)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func anUnknownServerIdIsRefusedExactlyAsAWrongSecretSoIdsCannotBeEnumerated(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let stranger = try await TestPlugin.connect(port: harness.port)
      let unknown = await #expect(throws: HandshakeError.self) {
        _ = try await stranger.handshake(serverId: 99, secret: Harness.secret)
      }
      #expect(try await stranger.receive() == nil)
      let guesser = try await TestPlugin.connect(port: harness.port)
      let wrong = await #expect(throws: HandshakeError.self) {
        _ = try await guesser.handshake(serverId: Harness.serverId, secret: "a guess of sixteen bytes")
      }
      // Both got a challenge (the client answered it) and the same refusal after it.
      #expect(unknown == .rejected(.wrongSecret, "authentication failed: wrong secret"))
      #expect(unknown == wrong)
      #expect(try await harness.rowCount(.servers) == 0)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func aReplayedHandshakeIsRefusedWithItsError(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
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

  @Test func aFrameOverFourKilobytesBeforeTheWelcomeIsRefusedAsTooLargeAndLargeBatchesPassAfterIt() async throws {
    // Before the welcome a peer can make the collector buffer at most 4 KiB of a
    // frame (× --max-handshakes), not 1 MiB; after it, batches of 1 MiB frames pass.
    try await withCollector { harness in
      let hello = Message.hello(Hello(
        serverId: Harness.serverId, clientNonce: Array(repeating: 1, count: 32), software: String(repeating: "x", count: 5_000)))
      // The header and a little of the payload: refused on the header, nothing left unread.
      let reply = try await RawPeer.exchange(port: harness.port, Array(FrameEncoder().encode(hello).prefix(100)))
      var decoder = FrameDecoder()
      decoder.append(reply)
      guard let frame = try decoder.nextFrame(), case .error(let error) = try Message(frame: frame) else {
        Issue.record("expected an error frame, got \(reply.count) bytes")
        return
      }
      #expect(error.code == .frameTooLarge, "\(error)")
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...2_000, serverId: Harness.serverId, batchSize: 2_000)  // one ~0.5 MB frame
      #expect(try await plugin.awaitAck(through: 2_000).throughSequence == 2_000)
      await plugin.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func eventsBeforeTheHandshakeAreAProtocolViolation(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      try await plugin.sendEvents(1...3, serverId: Harness.serverId)
      guard case .error(let error) = try await plugin.receive() else {
        Issue.record("expected an error frame")
        return
      }
      #expect(error.code == .protocolViolation)
      #expect(try await plugin.receive() == nil)
      #expect(try await harness.rowCount(.events) == 0)
    }
  }
}
