import Testing
import TradeTapEvents
import TradeTapLedgerCore

/// The projection's rules without a database: what `LedgerPlanner` plans is what
/// every backend executes (the backends' own suites, and the cross-backend
/// equivalence suite, check the execution).
@Suite("Ledger core: the projection planner")
struct LedgerPlannerTests {
  static let server: UInt32 = 7
  static func money(_ text: String) -> ExactDecimal { ExactDecimal(text)! }
  static func time(_ ms: Int64) -> BrokerTime { BrokerTime(brokerMilliseconds: 1_764_000_000_000 + ms, utcOffsetMinutes: 120) }
  static func event(_ seq: UInt64, _ kind: RecordKind, _ body: EventBody, server: UInt32 = server, offset: Int32 = 120) -> Event {
    Event(serverId: server, sequence: seq, kind: kind, hookTimestampNanos: seq, utcOffsetMinutes: offset, body: body)
  }
  static func deal(_ ticket: UInt64, seq: UInt64, action: DealAction = .buy, profit: String = "0.00", server: UInt32 = server) -> Event {
    event(seq, .dealAdd, .deal(Deal(
      deal: ticket, externalId: "", login: 1001, order: 500, positionId: 900, action: action, entry: .in, reason: 0,
      symbol: "EURUSD", digits: 5, currencyDigits: 2, time: time(Int64(seq) * 1000), price: money("1.08345"),
      volumeExt: 100_000_000, contractSize: money("100000"), profit: money(profit), commission: money("-0.70"),
      storage: money("0.00"), fee: money("0.00"), comment: "")), server: server)
  }
  static func plan(_ events: [Event], durable: UInt64, alreadyStored: Set<UInt64> = []) -> (LedgerAdmission, LedgerProjectionPlan) {
    let batch = LedgerBatch(serverId: server, events: events)
    let admission = LedgerPlanner.admit(batch, durable: durable)
    let inserted = Set(admission.admitted.map { events[$0].sequence }).subtracting(alreadyStored)
    return (admission, LedgerPlanner.project(batch, admission, durable: durable, inserted: inserted))
  }
  static func dealTickets(_ plan: LedgerProjectionPlan) -> [Int64] {
    plan.writes.compactMap { if case .upsert(let row) = $0, row.shapeId == LedgerRowShape.deal.id { row.key } else { nil } }
  }

  @Test func aBatchOutOfOrderIsAppliedInSequenceOrder() {
    let (admission, plan) = Self.plan([Self.deal(3, seq: 3), Self.deal(1, seq: 1), Self.deal(2, seq: 2)], durable: 0)
    #expect(admission.admitted == [1, 2, 0])
    #expect(Self.dealTickets(plan) == [1, 2, 3])
    #expect(plan.durableSequence == 3)
    #expect(plan.appliedEvents == 3 && plan.duplicateEvents == 0)
  }

  @Test func sequencesAtOrBelowTheDurablePointRepeatsAndOtherServersChangeNothing() {
    let events = [Self.deal(1, seq: 4), Self.deal(2, seq: 5), Self.deal(2, seq: 5), Self.deal(3, seq: 6, server: 8), Self.deal(4, seq: 7)]
    let (admission, plan) = Self.plan(events, durable: 4)
    #expect(admission.admitted == [1, 4])
    #expect(admission.duplicates == 3)
    #expect(Self.dealTickets(plan) == [2, 4])
    #expect(plan.duplicateEvents == 3)
    // 6 belonged to server 8: for server 7 it is a jump, recorded unless a gap covers it.
    #expect(plan.writes.contains(.gap(serverId: 7, first: 6, last: 6, reason: "not received", refusedEvents: nil, unlessCovered: true)))
  }

  @Test func anEventAlreadyStoredIsADuplicateAndDoesNotMoveTheDurablePoint() {
    let (_, plan) = Self.plan([Self.deal(1, seq: 1), Self.deal(2, seq: 2)], durable: 0, alreadyStored: [2])
    #expect(Self.dealTickets(plan) == [1])
    #expect(plan.duplicateEvents == 1 && plan.appliedEvents == 1)
    #expect(plan.durableSequence == 1)
  }

  @Test func aJumpIsAGapAfterTheEventFromZeroTooAndAReportedGapKeepsItsReason() {
    let gap = Self.event(5, .gap, .gap(Gap(firstSequence: 3, count: 2, reason: .overflow, refusedEvents: 9)))
    let (_, plan) = Self.plan([Self.deal(1, seq: 2), gap, Self.deal(2, seq: 6)], durable: 0)
    #expect(plan.writes == [
      .upsert(LedgerPlanner.deal(Self.dealOf(Self.deal(1, seq: 2)), server: 7, seq: 2, deleted: false)),
      .gap(serverId: 7, first: 1, last: 1, reason: "not received", refusedEvents: nil, unlessCovered: true),
      .gap(serverId: 7, first: 3, last: 4, reason: "overflow", refusedEvents: 9, unlessCovered: false),
      .gap(serverId: 7, first: 3, last: 4, reason: "not received", refusedEvents: nil, unlessCovered: true),
      .upsert(LedgerPlanner.deal(Self.dealOf(Self.deal(2, seq: 6)), server: 7, seq: 6, deleted: false)),
    ])
    #expect(plan.durableSequence == 6)
  }

  @Test func aFilteredSequenceIsADeliberateHoleNotAGap() {
    let filtered = Self.event(2, .gap, .gap(Gap(firstSequence: 2, count: 1, reason: .filtered)))
    let (_, plan) = Self.plan([Self.deal(1, seq: 1), filtered, Self.deal(3, seq: 3)], durable: 0)
    #expect(!plan.writes.contains { if case .gap = $0 { true } else { false } })
    #expect(plan.appliedEvents == 3)
  }

  @Test func aBalanceDealIsADealAndABalanceOperationOfItsType() {
    let (_, plan) = Self.plan([Self.deal(10, seq: 1, action: .balance, profit: "250.00")], durable: 0)
    let shapes = plan.writes.compactMap { if case .upsert(let row) = $0 { row.shapeId } else { nil } }
    #expect(shapes == [LedgerRowShape.deal.id, LedgerRowShape.balanceOperation.id])
    guard case .upsert(let operation) = plan.writes[1] else { Issue.record("no balance operation"); return }
    #expect(operation.values[4] == .text(BalanceOperationType(dealAction: .balance, amount: Self.money("250.00"))!.rawValue))
    #expect(operation.values[6] == .money(Self.money("250.00")))
  }

  @Test func aPositionDeleteClosesThePositionAndQuarantineIsKeptWhole() {
    let position = Position(
      position: 900, login: 1001, symbol: "EURUSD", action: .buy, digits: 5, volumeExt: 1, priceOpen: Self.money("1"),
      priceCurrent: Self.money("1"), profit: Self.money("0"), storage: Self.money("0"), timeCreate: Self.time(0),
      timeUpdate: Self.time(0), comment: "")
    let quarantine = Quarantine(kind: .dealAdd, reason: "price is NaN", rawBytes: [1, 2], secondaryBytes: [3])
    let (_, plan) = Self.plan([
      Self.event(1, .positionDelete, .position(position)), Self.event(2, .dealAdd, .quarantine(quarantine)),
    ], durable: 0)
    #expect(plan.writes == [
      .closePosition(serverId: 7, position: 900, seq: 1),
      .quarantine(serverId: 7, seq: 2, kind: .dealAdd, reason: "price is NaN", body: [1, 2, 3]),
    ])
    #expect(plan.quarantinedEvents == 1)
  }

  @Test func theUTCOffsetIsTheLastAppliedEventsAndEveryRowBindsItsShape() {
    let events = [Self.event(1, .dealAdd, Self.deal(1, seq: 1).body, offset: 120), Self.event(2, .dealAdd, Self.deal(2, seq: 2).body, offset: 180)]
    let (_, plan) = Self.plan(events, durable: 0)
    #expect(plan.utcOffsetMinutes == 180)
    for case .upsert(let row) in plan.writes {
      #expect(row.values.count == row.shape.columns.count)
      #expect(row.shape.columns.last == "updated_seq")
    }
    let (_, nothing) = Self.plan([Self.deal(1, seq: 1)], durable: 1)
    #expect(nothing.utcOffsetMinutes == nil && nothing.durableSequence == 1 && nothing.writes.isEmpty)
  }

  @Test func anMT4PartialAccountRowMergesOverAFullOne() {
    let full = LedgerRowImage(.accountFromTradeUser, [
      .integer(7), .integer(2002), .text("g"), .text("n"), .integer(100), .money(Self.money("5")), .money(Self.money("0")), .integer(3),
    ])
    let user = User(
      login: 2002, group: "real", name: "Client", email: "e", country: "CY", currency: "USD", currencyDigits: 2,
      leverage: 100, marginMode: .retailHedging, balance: Self.money("1.00"), credit: Self.money("0.00"),
      registration: Self.time(0), lastUpdate: Self.time(0), comment: "")
    let base = LedgerPlanner.account(user, server: 7, seq: 2, deleted: false)
    let merged = full.merged(over: base)
    #expect(merged.shapeId == LedgerRowShape.account.id)
    #expect(merged.values[8] == .money(Self.money("5")))  // balance from the MT4 row
    #expect(merged.values[4] == .text("e"))  // email kept
    #expect(merged.updatedSeq == 3)
  }

  static func dealOf(_ event: Event) -> Deal {
    if case .deal(let deal) = event.body { return deal }
    fatalError("not a deal")
  }
}
