import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapWire

/// Issue 10, finding 2: what a peer sends can no longer make the collector write
/// without bound. Heartbeat echoes are rate-limited, duplicate batches earn one
/// cumulative ack per read burst (not one each), and an unwritable channel is not
/// read (FaultTests `NonReadingPeerTests` floods a real collector for 30 s).
@Suite("Collector: a peer's flood earns bounded answers", .serialized)
struct OutboundPressureTests {
  /// Everything the collector sends until the ack through `sequence`.
  static func framesUntilAck(_ plugin: TestPlugin, through sequence: UInt64) async throws -> [Message] {
    var frames: [Message] = []
    while let message = try await plugin.receive() {
      frames.append(message)
      if case .ack(let ack) = message, ack.throughSequence >= sequence { return frames }
    }
    throw TestPluginError.closed
  }

  @Test func aFloodOfHeartbeatsEarnsAtMostOneEchoPerHundredMilliseconds() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      let start = ContinuousClock.now
      let beats = (0..<20_000).map { Message.heartbeat(Heartbeat(timestampNanos: UInt64($0))) }
      try await plugin.send(all: beats)
      try await plugin.sendEvents(1...1, serverId: Harness.serverId)
      let frames = try await Self.framesUntilAck(plugin, through: 1)
      let elapsed = ContinuousClock.now - start
      let echoes = frames.filter { if case .heartbeat = $0 { true } else { false } }.count
      let allowed = Int(elapsed / .milliseconds(100)) + 2  // one per 100 ms, the first at once, one own
      print("[pressure] 20000 heartbeats in \(elapsed): \(echoes) echoed (at most \(allowed) allowed)")
      #expect(echoes >= 1, "the first heartbeat is answered")
      #expect(echoes <= allowed)
      await plugin.close()
    }
  }

  @Test func duplicateBatchesEarnOneCumulativeAckPerReadBurstNotOneEach() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...10, serverId: Harness.serverId)
      _ = try await plugin.awaitAck(through: 10)
      let duplicate = Message.eventBatch(EventBatch(
        firstSequence: 1, events: (1...10).map { EventFactory.deal(seq: $0, serverId: Harness.serverId) }))
      try await plugin.send(all: Array(repeating: duplicate, count: 2_000))
      try await plugin.sendEvents(11...11, serverId: Harness.serverId)
      let frames = try await Self.framesUntilAck(plugin, through: 11)
      let acks = frames.compactMap { if case .ack(let ack) = $0 { ack.throughSequence } else { nil } }
      print("[pressure] 2000 duplicate batches: \(acks.count) acks (\(acks.filter { $0 == 10 }.count) through 10)")
      #expect(acks.last == 11)
      #expect(acks.allSatisfy { $0 == 10 || $0 == 11 })
      #expect(acks.count >= 2, "the duplicates are acknowledged")
      #expect(acks.count <= 200, "one ack per read burst, not one per duplicate batch (2,000)")
      #expect(harness.collector.metrics.eventsDuplicate.load(ordering: .relaxed) == 20_000)
      #expect(try await harness.rowCount(.events) == 11)
      await plugin.close()
    }
  }
}
