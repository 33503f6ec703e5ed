import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapWire

/// Issue 10, finding 3(b): a batch that claims sequences far past the durable point
/// (one batch at 2^63 − 1 used to move `servers.last_seq` there, and the real
/// plugin's events were then dropped as duplicates with no gap: silent, permanent
/// loss). Now such a claim is refused and moves nothing; a plausible jump is
/// committed with a `not received` gap; nothing near 2^64 overflows. Both backends.
@Suite("Collector: sequence claims past the durable point are refused or recorded as gaps", .serialized)
struct SequenceClaimTests {
  /// A deal at any sequence (`EventFactory` derives tickets and times from the
  /// sequence, which overflows near 2^64; here they stay small).
  static func deal(_ seq: UInt64) -> Event {
    var event = EventFactory.deal(seq: seq % 1_000_000 + 1, serverId: Harness.serverId)
    event.sequence = seq
    return event
  }

  static func batch(_ sequences: ClosedRange<UInt64>) -> Message {
    .eventBatch(EventBatch(firstSequence: sequences.lowerBound, events: sequences.map(deal)))
  }

  static func durable(_ harness: Harness) async throws -> Int64? {
    try await harness.records("SELECT last_seq FROM servers WHERE id = 7").first?.integer("last_seq")
  }

  static func gaps(_ harness: Harness) async throws -> [String] {
    try await harness.records("SELECT first_seq, last_seq, reason FROM gaps ORDER BY first_seq").map {
      "\($0.integer("first_seq") ?? -1)-\($0.integer("last_seq") ?? -1) \($0.text("reason") ?? "")"
    }
  }

  /// Sends `message` and expects the collector's `protocol violation` and close.
  static func expectRefused(_ plugin: TestPlugin, _ message: Message, _ what: String) async throws {
    try await plugin.send(message)
    guard case .error(let error)? = try await plugin.receiveSkippingHeartbeats() else {
      Issue.record("\(what): no error frame")
      return
    }
    #expect(error.code == .protocolViolation, "\(what): \(error)")
    #expect(try await plugin.receiveSkippingHeartbeats() == nil, "\(what): the connection stayed open")
  }

  /// The honest plugin gets back in (its previous connection may still be closing).
  static func reconnect(_ harness: Harness) async throws -> (TestPlugin, Welcome) {
    for _ in 0..<50 {
      let plugin = try await TestPlugin.connect(port: harness.port)
      if let welcome = try? await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret) {
        return (plugin, welcome)
      }
      await plugin.close()
      try await Task.sleep(for: .milliseconds(100))
    }
    throw TestPluginError.closed
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func aBatchAtTwoToTheSixtyThreeIsRefusedAndTheRealPluginLosesNothing(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.send(Self.batch(1...10))
      _ = try await plugin.awaitAck(through: 10)
      try await Self.expectRefused(plugin, Self.batch(UInt64(Int64.max)...UInt64(Int64.max)), "2^63 - 1")
      #expect(try await Self.durable(harness) == 10, "the durable point moved")

      // The real plugin carries on from 10: nothing is taken for a duplicate.
      let (again, welcome) = try await Self.reconnect(harness)
      #expect(welcome.lastDurableSequence == 10)
      try await again.send(Self.batch(11...20))
      #expect(try await again.awaitAck(through: 20).throughSequence == 20)
      #expect(try await harness.rowCount(.events) == 20)
      #expect(try await Self.durable(harness) == 20)
      #expect(try await Self.gaps(harness) == [])
      await again.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func sequencesNearTwoToTheSixtyFourAreRefusedWithoutOverflow(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let claims: [(String, Message)] = [
        ("a batch ending at 2^64 - 1", Self.batch((UInt64.max - 1)...UInt64.max)),
        ("a batch at 2^64 - 1", Self.batch(UInt64.max...UInt64.max)),
        ("a batch just past the ledger's range", Self.batch((UInt64(Int64.max) + 1)...(UInt64(Int64.max) + 1))),
        ("a gap notice running past 2^64", .gapNotice(GapNotice(firstSequence: UInt64.max - 1, count: 5, reason: .other))),
        ("a gap notice reaching 2^63", .gapNotice(GapNotice(firstSequence: 1, count: UInt64(Int64.max), reason: .other))),
        ("a gap event naming sequences past 2^64", .eventBatch(EventBatch(firstSequence: 1, events: [
          Event(serverId: Harness.serverId, sequence: 1, kind: .gap, hookTimestampNanos: 1, utcOffsetMinutes: 0,
                body: .gap(Gap(firstSequence: UInt64.max, count: 3, reason: .other))),
        ]))),
      ]
      for (what, claim) in claims {
        let (plugin, welcome) = try await Self.reconnect(harness)
        #expect(welcome.lastDurableSequence == 0, "\(what)")
        try await Self.expectRefused(plugin, claim, what)
      }
      #expect(try await harness.rowCount(.events) == 0)
      #expect(try await Self.gaps(harness) == [])
      let (plugin, _) = try await Self.reconnect(harness)
      try await plugin.send(Self.batch(1...5))
      #expect(try await plugin.awaitAck(through: 5).throughSequence == 5)
      await plugin.close()
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func aPlausibleJumpIsCommittedWithANotReceivedGapFromTheFirstEventOn(backend: LedgerBackendKind) async throws {
    try await withCollector(backend: backend) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      // A new server whose first event is 1000 (1...999 never arrive): recorded too.
      try await plugin.send(Self.batch(1000...1004))
      _ = try await plugin.awaitAck(through: 1004)
      try await plugin.send(Self.batch(5000...5001))
      _ = try await plugin.awaitAck(through: 5001)
      #expect(try await Self.gaps(harness) == ["1-999 not received", "1005-4999 not received"])
      #expect(try await Self.durable(harness) == 5001)
      #expect(harness.collector.metrics.gapsRecorded.load(ordering: .relaxed) == 2)
      await plugin.close()
    }
  }
}
