import GRDB
import Testing
import TradeTapEvents
import TradeTapLedger

@Suite("Ledger: sequence order, positions, gaps and quarantine")
struct LedgerOrderingTests {
  @Test func anOlderEventNeverOverwritesANewerState() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([Fixtures.user(1001, balance: "200.00", seq: 10)])
    let durable = try ledger.writer.apply([Fixtures.user(1001, balance: "100.00", seq: 8)])
    #expect(durable == 10)
    let account = try #require(try ledger.read { try AccountRow.fetchOne($0) })
    #expect(account.balance == "200.00")
    #expect(account.updatedSeq == 10)
  }

  @Test func eventsOfOneBatchAreAppliedInSequenceOrder() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.user(1001, balance: "300.00", seq: 3),
      Fixtures.user(1001, balance: "100.00", seq: 1),
      Fixtures.user(1001, balance: "200.00", seq: 2),
    ])
    let account = try #require(try ledger.read { try AccountRow.fetchOne($0) })
    #expect(account.balance == "300.00")
  }

  @Test func aClosedPositionLeavesOpenPositions() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.position(901, volumeExt: 100_000_000, seq: 1, kind: .positionAdd),
      Fixtures.position(902, volumeExt: 100_000_000, seq: 2, kind: .positionAdd),
      Fixtures.position(901, volumeExt: 50_000_000, seq: 3, kind: .positionUpdate),
      Fixtures.position(902, volumeExt: 0, seq: 4, kind: .positionDelete),
    ])
    let positions = try ledger.read { try PositionRow.fetchAll($0) }
    #expect(positions.map(\.position) == [901])
    #expect(positions.first?.volumeExt == 50_000_000)
  }

  @Test func aDeletedOrderStaysInHistory() throws {
    let (ledger, _) = try Fixtures.ledger()
    let order = Order(
      order: 800, externalId: "", login: 1001, symbol: "EURUSD", type: .buyLimit, state: .placed, reason: 0,
      digits: 5, priceOrder: Fixtures.money("1.08000"), priceSL: Fixtures.money("0.00000"),
      priceTP: Fixtures.money("0.00000"), volumeInitialExt: 100_000_000, volumeCurrentExt: 100_000_000,
      positionId: 0, timeSetup: Fixtures.time(0), timeDone: nil, comment: "")
    var canceled = order
    canceled.state = .canceled
    canceled.timeDone = Fixtures.time(5000)
    try ledger.writer.apply([
      Fixtures.event(1, .orderAdd, .order(order)),
      Fixtures.event(2, .orderDelete, .order(canceled)),
    ])
    let rows = try ledger.read { try OrderRow.fetchAll($0) }
    #expect(rows.count == 1)
    #expect(rows.first?.inHistory == true)
    #expect(rows.first?.state == Int(OrderState.canceled.rawValue))
    #expect(rows.first?.timeDoneUtc != nil)
  }

  @Test func gapsAreStoredFromGapEventsNoticesAndMissingSequences() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.deal(1, seq: 1),
      Fixtures.event(2, .gap, .gap(Gap(firstSequence: 2, count: 3, reason: .overflow))),
      Fixtures.deal(2, seq: 5),
      Fixtures.deal(3, seq: 9),  // 6...8 never arrived
    ])
    try ledger.writer.commit([], reportedGaps: [
      ReportedGap(serverId: Fixtures.serverId, firstSequence: 20, lastSequence: 29, reason: "peer reported")
    ])
    let gaps = try ledger.read { try GapRow.order(Column("first_seq")).fetchAll($0) }
    #expect(gaps.map { [$0.firstSeq, $0.lastSeq] } == [[2, 4], [6, 8], [20, 29]])
    #expect(gaps.map(\.reason) == ["overflow", "not received", "peer reported"])
  }

  @Test func anOverflowGapKeepsHowManyEventsTheJournalRefused() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.deal(1, seq: 1),
      Fixtures.event(2, .gap, .gap(Gap(firstSequence: 2, count: 1, reason: .overflow, refusedEvents: 952))),
      Fixtures.event(3, .gap, .gap(Gap(firstSequence: 3, count: 1, reason: .uncommitted))),
    ])
    let gaps = try ledger.read { try GapRow.order(Column("first_seq")).fetchAll($0) }
    #expect(gaps.map(\.refusedEvents) == [952, nil])
    let summary = try ledger.read { try String.fetchOne($0, sql: "SELECT summary FROM events WHERE seq = 2") }
    #expect(summary == "gap first 2 count 1 reason overflow refused 952")
  }

  @Test func filteredSequencesAreDeliberateHolesNotGaps() throws {
    let (ledger, _) = try Fixtures.ledger()
    let commit = try ledger.writer.commit([
      LedgerBatch(serverId: Fixtures.serverId, events: [
        Fixtures.deal(1, seq: 1),
        Fixtures.event(2, .gap, .gap(Gap(firstSequence: 2, count: 1, reason: .filtered))),
        Fixtures.deal(2, seq: 3),
      ])
    ])
    #expect(commit.gapsRecorded == 0)
    #expect(try ledger.read { try GapRow.fetchCount($0) } == 0)
    let kinds = try ledger.read { try String.fetchAll($0, sql: "SELECT kind FROM events ORDER BY seq") }
    #expect(kinds == ["deal_add", "filtered", "deal_add"])
    let summary = try ledger.read { try String.fetchOne($0, sql: "SELECT summary FROM events WHERE seq = 2") }
    #expect(summary == "gap first 2 count 1 reason filtered")
  }

  @Test func quarantinedRecordsAreKeptWithTheirBytesAndReason() throws {
    let (ledger, _) = try Fixtures.ledger()
    let bad = Quarantine(kind: .dealAdd, reason: "deal.profit is not finite", declaredSize: 4, rawBytes: [1, 2, 3, 4])
    let commit = try ledger.writer.commit([
      LedgerBatch(serverId: Fixtures.serverId, events: [Fixtures.event(1, .dealAdd, .quarantine(bad))])
    ])
    #expect(commit.quarantinedEvents == 1)
    let rows = try ledger.read { try QuarantineRow.fetchAll($0) }
    #expect(rows.count == 1)
    #expect(rows.first?.reason == "deal.profit is not finite")
    #expect(rows.first.map { Array($0.body) } == [1, 2, 3, 4])
    #expect(rows.first?.kind == "deal_add")
    #expect(try ledger.read { try DealRow.fetchCount($0) } == 0)
    // The event still counts: the stream moves on past it.
    #expect(try ledger.writer.durableSequence(serverId: Fixtures.serverId) == 1)
  }

  @Test func theAuditStreamKeepsTheEncodedEvent() throws {
    let (ledger, _) = try Fixtures.ledger()
    let event = Fixtures.deal(71, seq: 1)
    let encoded = EventCodec.encode(event)
    try ledger.writer.apply([event], encodedEvents: [encoded])
    let row = try #require(try ledger.read { try EventRow.fetchOne($0) })
    #expect(row.kind == "deal_add")
    #expect(row.body.map { try? EventCodec.decode(Array($0)) } == event)
    #expect(row.summary.hasPrefix("deal 71 login 1001"))
  }
}
