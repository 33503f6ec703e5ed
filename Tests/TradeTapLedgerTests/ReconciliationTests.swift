import Foundation
import GRDB
import Testing
import TradeTapEvents
import TradeTapLedger

/// `LedgerWriter.reconcile`: the comparison of a platform snapshot with a real SQLite
/// ledger, the divergences it records and the corrections it writes.
@Suite("Reconciliation: the platform is the truth, corrected on platform ids, recorded")
struct ReconciliationTests {
  typealias F = Fixtures

  static func body<T>(_ event: Event, _ extract: (EventBody) -> T?) -> T { extract(event.body)! }
  static func user(_ e: Event) -> User { body(e) { if case .user(let u) = $0 { u } else { nil } } }
  static func deal(_ e: Event) -> Deal { body(e) { if case .deal(let d) = $0 { d } else { nil } } }
  static func position(_ e: Event) -> Position { body(e) { if case .position(let p) = $0 { p } else { nil } } }
  static func trade(_ e: Event) -> Trade { body(e) { if case .trade(let t) = $0 { t } else { nil } } }

  static func count(_ ledger: Ledger, _ sql: String) throws -> Int {
    try ledger.pool.read { try Int.fetchOne($0, sql: sql) ?? -1 }
  }

  static func text(_ ledger: Ledger, _ sql: String) throws -> String? {
    try ledger.pool.read { try String.fetchOne($0, sql: sql) }
  }

  /// A ledger whose stream saw account 1001 (deposit 1000.00, one buy) and nothing else.
  static func streamedLedger() throws -> Ledger {
    let (ledger, _) = try F.ledger()
    try ledger.writer.apply([
      F.user(1001, balance: "0.00", seq: 1, kind: .userAdd),
      F.deal(10, action: .balance, entry: .in, profit: "1000.00", seq: 2),
      F.user(1001, balance: "1000.00", seq: 3),
      F.deal(11, seq: 4),
      F.position(900, volumeExt: 100_000_000, seq: 5, kind: .positionAdd),
      F.user(1001, balance: "999.30", seq: 6),
    ])
    return ledger
  }

  @Test func aDepositTheStreamMissedIsInsertedWithItsBalanceOperationAndTheBalanceFixed() throws {
    let ledger = try Self.streamedLedger()
    // The platform also has a 500.00 deposit (deal 12) whose hooks never fired.
    let missed = F.deal(12, action: .balance, entry: .in, profit: "500.00", seq: 7)
    let snapshot = PlatformSnapshot(
      serverId: F.serverId, accounts: [Self.user(F.user(1001, balance: "1499.30", seq: 8))],
      positions: [Self.position(F.position(900, volumeExt: 100_000_000, seq: 5, kind: .positionAdd))],
      deals: [Self.deal(F.deal(10, action: .balance, entry: .in, profit: "1000.00", seq: 2)),
              Self.deal(F.deal(11, seq: 4)), Self.deal(missed)])
    let outcome = try #require(try ledger.writer.reconcile(snapshot, caughtUpThrough: 6))

    #expect(Set(outcome.divergences.map { "\($0.subject.rawValue) \($0.key) \($0.field) \($0.correction.rawValue)" }) == [
      "deal 12 missing inserted", "account 1001 balance updated",
    ])
    let balance = outcome.divergences.first { $0.field == "balance" }
    #expect(balance?.ledgerValue == "999.30" && balance?.platformValue == "1499.30")
    #expect(try Self.text(ledger, "SELECT balance FROM accounts WHERE login = 1001") == "1499.30")
    #expect(try Self.text(ledger, "SELECT type || ' ' || amount FROM balance_operations WHERE ticket = 12") == "deposit 500.00")
    #expect(try Self.count(ledger, "SELECT updated_seq FROM deals WHERE deal = 12") == 6, "written at the snapshot's point")
    #expect(try Self.count(ledger, "SELECT count(*) FROM reconciliation_divergences") == 2)
    #expect(try Self.count(ledger, "SELECT divergences FROM reconciliation_sweeps") == 2)
    #expect(try Self.text(ledger, "SELECT last_reconciled_utc FROM servers WHERE id = 7") != nil)
  }

  @Test func aSecondSweepOfTheSameSnapshotFindsNothingAndWritesNothing() throws {
    let ledger = try Self.streamedLedger()
    let snapshot = PlatformSnapshot(
      serverId: F.serverId, accounts: [Self.user(F.user(1001, balance: "1499.30", seq: 8))],
      deals: [Self.deal(F.deal(10, action: .balance, entry: .in, profit: "1000.00", seq: 2)),
              Self.deal(F.deal(11, seq: 4)), Self.deal(F.deal(12, action: .balance, entry: .in, profit: "500.00", seq: 7))])
    let first = try #require(try ledger.writer.reconcile(snapshot, caughtUpThrough: 6))
    let second = try #require(try ledger.writer.reconcile(snapshot, caughtUpThrough: 6))
    #expect(first.divergences.count == 2)
    #expect(second.divergences.isEmpty)
    #expect(try Self.count(ledger, "SELECT count(*) FROM balance_operations") == 2)
    #expect(try Self.count(ledger, "SELECT count(*) FROM reconciliation_sweeps") == 2)
  }

  @Test func aLaterLiveEventForACorrectedDealDoesNotCountItTwice() throws {
    let ledger = try Self.streamedLedger()
    let late = F.deal(12, action: .balance, entry: .in, profit: "500.00", seq: 7)
    _ = try #require(try ledger.writer.reconcile(
      PlatformSnapshot(serverId: F.serverId, deals: [Self.deal(late)], dealWindow: F.dayStart + 7000..<Int64.max),
      caughtUpThrough: 6))
    // The hook's event arrives after the sweep (it was in flight, not lost).
    try ledger.writer.apply([late, F.user(1001, balance: "1499.30", seq: 8)])
    #expect(try Self.count(ledger, "SELECT count(*) FROM deals WHERE deal = 12") == 1)
    #expect(try Self.count(ledger, "SELECT count(*) FROM balance_operations WHERE ticket = 12") == 1)
    #expect(try Self.count(ledger, "SELECT updated_seq FROM deals WHERE deal = 12") == 7, "the live event applies over the correction")
    #expect(try Self.text(ledger, "SELECT group_concat(amount) FROM balance_operations WHERE login = 1001") == "1000.00,500.00")
  }

  @Test func positionsAreAddedRemovedAndFixedAndAStaleAccountIsMarkedDeleted() throws {
    let ledger = try Self.streamedLedger()
    try ledger.writer.apply([F.user(1002, balance: "50.00", seq: 7, kind: .userAdd),
                             F.position(901, volumeExt: 30_000_000, seq: 8, kind: .positionAdd)])
    // Platform: 900 partly closed (volume 0.5), 901 closed, 902 opened; 1002 deleted.
    let snapshot = PlatformSnapshot(
      serverId: F.serverId, accounts: [Self.user(F.user(1001, balance: "999.30", seq: 6))],
      positions: [Self.position(F.position(900, volumeExt: 50_000_000, seq: 9, kind: .positionUpdate)),
                  Self.position(F.position(902, volumeExt: 10_000_000, seq: 9, kind: .positionAdd))])
    let outcome = try #require(try ledger.writer.reconcile(snapshot, caughtUpThrough: 8))
    #expect(Set(outcome.divergences.map { "\($0.subject.rawValue) \($0.key) \($0.field) \($0.correction.rawValue)" }) == [
      "position 900 volume_ext updated", "position 901 unexpected removed", "position 902 missing inserted",
      "account 1002 unexpected marked_deleted",
    ])
    #expect(try Self.text(ledger, "SELECT group_concat(position || ':' || volume_ext) FROM (SELECT * FROM positions ORDER BY position)")
            == "900:50000000,902:10000000")
    #expect(try Self.count(ledger, "SELECT deleted FROM accounts WHERE login = 1002") == 1)
    #expect(try Self.count(ledger, "SELECT deleted FROM accounts WHERE login = 1001") == 0)
  }

  @Test func rowsWrittenByEventsAfterTheSnapshotAreLeftAlone() throws {
    let ledger = try Self.streamedLedger()
    // The snapshot was taken when the ledger stood at 3 (balance 1000.00); events 4–6 came after it.
    let snapshot = PlatformSnapshot(
      serverId: F.serverId, accounts: [Self.user(F.user(1001, balance: "1000.00", seq: 3))], positions: [])
    let outcome = try #require(try ledger.writer.reconcile(snapshot, caughtUpThrough: 3))
    #expect(outcome.divergences.isEmpty, "\(outcome.divergences)")
    #expect(try Self.text(ledger, "SELECT balance FROM accounts WHERE login = 1001") == "999.30")
    #expect(try Self.count(ledger, "SELECT count(*) FROM positions") == 1)
  }

  @Test func eachScopeIsComparedAtItsOwnPointSoAnOlderPositionSnapshotReopensNothing() throws {
    let ledger = try Self.streamedLedger()
    // Position 900 closed at seq 8, balance changed at 7, both after the positions and
    // accounts snapshots (taken at 6); the deals snapshot came later (at 8).
    try ledger.writer.apply([F.user(1001, balance: "1010.00", seq: 7),
                             F.position(900, volumeExt: 100_000_000, seq: 8, kind: .positionDelete)])
    var snapshot = PlatformSnapshot(
      serverId: F.serverId, accounts: [Self.user(F.user(1001, balance: "999.30", seq: 6))],
      positions: [Self.position(F.position(900, volumeExt: 100_000_000, seq: 5, kind: .positionAdd))])
    snapshot.accountsThrough = 6
    snapshot.positionsThrough = 6
    let outcome = try #require(try ledger.writer.reconcile(snapshot, caughtUpThrough: 8))
    #expect(outcome.divergences.isEmpty, "\(outcome.divergences)")
    #expect(try Self.count(ledger, "SELECT count(*) FROM positions") == 0)
    #expect(try Self.text(ledger, "SELECT balance FROM accounts WHERE login = 1001") == "1010.00")
  }

  @Test func aLedgerNotYetDurableThroughTheSnapshotIsNotCompared() throws {
    let ledger = try Self.streamedLedger()
    let snapshot = PlatformSnapshot(serverId: F.serverId, accounts: [])
    #expect(try ledger.writer.reconcile(snapshot, caughtUpThrough: 7) == nil)
    #expect(try Self.count(ledger, "SELECT count(*) FROM reconciliation_sweeps") == 0)
    #expect(try Self.count(ledger, "SELECT deleted FROM accounts WHERE login = 1001") == 0)
  }

  @Test func aDealThePlatformNoLongerHasIsMarkedDeletedWithItsBalanceOperationAndGapsAreHealed() throws {
    let ledger = try Self.streamedLedger()
    try ledger.writer.apply([F.deal(13, action: .credit, entry: .in, profit: "200.00", seq: 9)])  // 7–8 not received
    #expect(try Self.count(ledger, "SELECT count(*) FROM gaps WHERE healed_utc IS NULL") == 1)
    let snapshot = PlatformSnapshot(
      serverId: F.serverId,
      deals: [Self.deal(F.deal(10, action: .balance, entry: .in, profit: "1000.00", seq: 2)), Self.deal(F.deal(11, seq: 4))])
    let outcome = try #require(try ledger.writer.reconcile(snapshot, caughtUpThrough: 9))
    #expect(outcome.divergences.map(\.description) == ["deal 13: in the ledger, not on the platform → marked_deleted"])
    #expect(outcome.gapsHealed == 1)
    #expect(try Self.count(ledger, "SELECT deleted FROM deals WHERE deal = 13") == 1)
    #expect(try Self.count(ledger, "SELECT deleted FROM balance_operations WHERE ticket = 13") == 1)
    #expect(try Self.count(ledger, "SELECT count(*) FROM gaps WHERE healed_utc IS NULL") == 0)
  }

  @Test func anMT4TradeClosedWhileItsHooksWereLostIsClosedAndAMissedBalanceRecordInserted() throws {
    let (ledger, _) = try F.ledger()
    try ledger.writer.apply([F.mt4Trade(70, command: .buy, profit: "0.00", seq: 1)])
    let closed = Self.trade(F.mt4Trade(70, command: .buy, profit: "12.50", closed: true, seq: 2, kind: .tradeUpdate))
    let deposit = Self.trade(F.mt4Trade(71, command: .balance, profit: "300.00", comment: "deposit", closed: true, seq: 3))
    let outcome = try #require(try ledger.writer.reconcile(
      PlatformSnapshot(serverId: F.serverId, trades: [closed, deposit]), caughtUpThrough: 1))
    #expect(Set(outcome.divergences.map { "\($0.key) \($0.field)" }) == ["70 close_time", "70 profit", "71 missing"])
    #expect(try Self.text(ledger, "SELECT is_open || ' ' || profit FROM trades WHERE ticket = 70") == "0 12.50")
    #expect(try Self.text(ledger, "SELECT source || ' ' || type || ' ' || amount FROM balance_operations WHERE ticket = 71")
            == "mt4_trade deposit 300.00")
  }
}
