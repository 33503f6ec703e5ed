import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapWire

@Suite("Collector: events are acknowledged only once durable, and counted once", .serialized)
struct StreamingTests {
  @Test(arguments: LedgerBackendKind.allCases) func theAckArrivesOnlyWhenTheRowsAreCommitted(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      var acked: UInt64 = 0
      try await plugin.sendEvents(1...2000, serverId: Harness.serverId, batchSize: 100)
      while acked < 2000 {
        let ack = try await plugin.awaitAck(through: acked + 1)
        acked = ack.throughSequence
        // Read the ledger through a separate connection the moment the ack arrives.
        let durable = try await harness.records("SELECT seq FROM events WHERE server_id = 7")
          .filter { ($0.integer("seq") ?? .max) <= Int64(acked) }.count
        #expect(durable == Int(acked))
      }
      #expect(try await harness.rowCount(.deals) == 2000)
      await plugin.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func resentEventsAreAcknowledgedButNotCountedTwice(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...50, serverId: Harness.serverId)
      _ = try await plugin.awaitAck(through: 50)
      // The plugin lost the ack and reconnects, resending from 1 (at-least-once).
      await plugin.close()
      let again = try await TestPlugin.connect(port: harness.port)
      let welcome = try await again.handshake(serverId: Harness.serverId, secret: Harness.secret)
      #expect(welcome.lastDurableSequence == 50)
      try await again.sendEvents(1...80, serverId: Harness.serverId, batchSize: 40)
      let ack = try await again.awaitAck(through: 80)
      #expect(ack.throughSequence == 80)
      #expect(try await harness.rowCount(.events) == 80)
      #expect(try await harness.rowCount(.deals) == 80)
      #expect(harness.collector.metrics.eventsDuplicate.load(ordering: .relaxed) == 50)
      #expect(harness.collector.metrics.eventsCommitted.load(ordering: .relaxed) == 80)
      await again.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func aBatchAlreadyDurableIsAcknowledgedAtOnce(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...10, serverId: Harness.serverId)
      _ = try await plugin.awaitAck(through: 10)
      try await plugin.sendEvents(1...10, serverId: Harness.serverId)
      #expect(try await plugin.awaitAck(through: 10).throughSequence == 10)
      #expect(try await harness.rowCount(.events) == 10)
      await plugin.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func aGapNoticeIsStored(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...5, serverId: Harness.serverId)
      try await plugin.send(.gapNotice(GapNotice(firstSequence: 6, count: 4, reason: .overflow)))
      try await plugin.sendEvents(10...12, serverId: Harness.serverId)
      _ = try await plugin.awaitAck(through: 12)
      let gaps = try await harness.records("SELECT first_seq, last_seq, reason FROM gaps").map {
        "\($0.integer("first_seq") ?? -1)-\($0.integer("last_seq") ?? -1) \($0.text("reason") ?? "")"
      }
      #expect(gaps == ["6-9 reported by plugin: overflow"])
      #expect(harness.collector.metrics.gapsRecorded.load(ordering: .relaxed) == 1)
      await plugin.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func oneBadConnectionNeverDisturbsTheOthers(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let good = try await TestPlugin.connect(port: harness.port)
      _ = try await good.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await good.sendEvents(1...100, serverId: Harness.serverId)
      // A peer that sends garbage gets a bad-frame error and is closed...
      let reply = try await RawPeer.exchange(port: harness.port, Array("GET / HTTP/1.1\r\n\r\n".utf8))
      var decoder = FrameDecoder()
      decoder.append(reply)
      let frame = try #require(try decoder.nextFrame())
      guard case .error(let error) = try Message(frame: frame) else {
        Issue.record("expected an error frame")
        return
      }
      #expect(error.code == .badFrame)
      // ...while the good one carries on.
      try await good.sendEvents(101...200, serverId: Harness.serverId)
      #expect(try await good.awaitAck(through: 200).throughSequence == 200)
      await good.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases) func eventsOfAnotherServerAreRefused(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...3, serverId: 8)
      guard case .error(let error) = try await plugin.receiveSkippingHeartbeats() else {
        Issue.record("expected an error frame")
        return
      }
      #expect(error.code == .protocolViolation)
      #expect(try await harness.rowCount(.events) == 0)
    }
  }

  @Test func heartbeatsAreAnsweredAndASilentPeerIsDropped() async throws {
    try await withCollector(heartbeat: .milliseconds(200)) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.send(.heartbeat(Heartbeat(timestampNanos: 12345)))
      var echoed = false
      let start = ContinuousClock.now
      // The collector answers, sends its own when idle, then drops us after 3 × 200 ms of silence.
      while let message = try await plugin.receive() {
        if case .heartbeat(let beat) = message, beat.timestampNanos == 12345 { echoed = true }
      }
      let silentFor = ContinuousClock.now - start
      #expect(echoed)
      #expect(silentFor >= .milliseconds(550))
      #expect(silentFor < .seconds(5))
    }
  }
}
