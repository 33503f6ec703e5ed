import Foundation
import GRDB
import Testing
import TradeTapEvents
import TradeTapLedger

/// A sweep that would delete or zero more than `--reconcile-max-deletions` is held:
/// its divergences recorded as `held`, nothing corrected, until it is applied.
@Suite("Reconciliation: an impossible book is held, not applied")
struct HeldSweepTests {
  typealias F = Fixtures
  typealias R = ReconciliationTests

  /// A ledger that streamed `deals` deals (tickets 1...deals) of account 1001.
  static func ledger(deals: Int) throws -> Ledger {
    let (ledger, _) = try F.ledger()
    try ledger.writer.apply([F.user(1001, balance: "1000.00", seq: 1, kind: .userAdd)]
      + (1...deals).map { F.deal(UInt64($0), seq: UInt64($0) + 1) })
    return ledger
  }

  @Test func theDeletionLimitIsACountAPercentageOrTheLargerOfBoth() {
    #expect(ReconciliationDeletionLimit("100") == ReconciliationDeletionLimit(rows: 100))
    #expect(ReconciliationDeletionLimit("1%") == ReconciliationDeletionLimit(percent: 1))
    #expect(ReconciliationDeletionLimit("1%,100") == .default)
    #expect(ReconciliationDeletionLimit(" 0.5% , 20 ") == ReconciliationDeletionLimit(rows: 20, percent: 0.5))
    for junk in ["", "-1", "1%,2%", "3,4", "101%", "x", "1%,", "nan%"] { #expect(ReconciliationDeletionLimit(junk) == nil, "\(junk)") }
    #expect(ReconciliationDeletionLimit.default.threshold(ledgerRows: 135_167) == 1_351)
    #expect(ReconciliationDeletionLimit.default.threshold(ledgerRows: 5_000) == 100)
    #expect(ReconciliationDeletionLimit(percent: 100).threshold(ledgerRows: 5) == Int.max)
    #expect(ReconciliationDeletionLimit.default.description == "1%,100")
  }

  @Test func anEmptyBookIsHeldAndTheLedgerKeepsEveryRow() throws {
    let ledger = try Self.ledger(deals: 300)
    let empty = PlatformSnapshot(serverId: F.serverId, accounts: [], deals: [])
    let outcome = try #require(try ledger.writer.reconcile(empty, caughtUpThrough: 301, mode: .sweep(limit: .default)))
    #expect(outcome.held && outcome.deletions == 301 && outcome.deletionLimit == 100 && outcome.ledgerRowsCompared == 301)
    #expect(try R.count(ledger, "SELECT count(*) FROM deals WHERE deleted = 1") == 0)
    #expect(try R.count(ledger, "SELECT count(*) FROM accounts WHERE deleted = 1") == 0)
    #expect(try R.count(ledger, "SELECT count(*) FROM reconciliation_divergences WHERE status = 'held'") == 301)
    #expect(try R.text(ledger, "SELECT status || ' ' || deletions || ' ' || deletion_limit FROM reconciliation_sweeps") == "held 301 100")
    #expect(try R.text(ledger, "SELECT last_reconciled_utc FROM servers") == nil, "a held sweep reconciles nothing")
  }

  @Test func aZeroedBalanceCountsAsADeletion() throws {
    let (ledger, _) = try F.ledger()
    try ledger.writer.apply([F.user(1001, balance: "1000.00", seq: 1, kind: .userAdd)])
    let zeroed = R.user(F.user(1001, balance: "0.00", seq: 2))
    let outcome = try #require(try ledger.writer.reconcile(
      PlatformSnapshot(serverId: F.serverId, accounts: [zeroed]), caughtUpThrough: 1,
      mode: .sweep(limit: ReconciliationDeletionLimit(rows: 0))))
    #expect(outcome.held && outcome.deletions == 1)
    #expect(try R.text(ledger, "SELECT balance FROM accounts") == "1000.00")
  }

  @Test func aFewDeletionsWithinTheLimitStillApply() throws {
    let ledger = try Self.ledger(deals: 300)
    let platform = (3...300).map { R.deal(F.deal(UInt64($0), seq: UInt64($0) + 1)) }  // deals 1 and 2 deleted by a dealer
    let outcome = try #require(try ledger.writer.reconcile(
      PlatformSnapshot(serverId: F.serverId, deals: platform), caughtUpThrough: 301, mode: .sweep(limit: .default)))
    #expect(!outcome.held && outcome.deletions == 2)
    #expect(try R.count(ledger, "SELECT count(*) FROM deals WHERE deleted = 1") == 2)
    #expect(try R.text(ledger, "SELECT status FROM reconciliation_sweeps") == "applied")
  }

  @Test func applyingAHeldSweepCorrectsAtItsPointAndRecordsWhatItDid() throws {
    let ledger = try Self.ledger(deals: 300)
    let empty = PlatformSnapshot(serverId: F.serverId, deals: [])
    let held = try #require(try ledger.writer.reconcile(empty, caughtUpThrough: 301, mode: .sweep(limit: .default)))
    // A live event after the snapshot rewrites deal 5: newer than the held snapshot, left alone.
    try ledger.writer.apply([F.deal(5, profit: "1.00", seq: 302, kind: .dealUpdate)])
    let applied = try #require(try ledger.writer.reconcile(
      empty, caughtUpThrough: 301, mode: .applyHeld(sweepId: held.sweepId)))
    #expect(!applied.held && applied.sweepId == held.sweepId && applied.deletions == 299)
    #expect(try R.count(ledger, "SELECT count(*) FROM deals WHERE deleted = 0") == 1)
    #expect(try R.text(ledger, "SELECT status FROM reconciliation_sweeps") == "applied")
    #expect(try R.count(ledger, "SELECT count(*) FROM reconciliation_divergences WHERE status = 'applied'") == 299)
    #expect(try R.count(ledger, "SELECT count(*) FROM reconciliation_divergences WHERE status = 'held'") == 300)
    #expect(throws: HeldSweepError.notHeld(held.sweepId, status: "applied")) {
      try ledger.writer.reconcile(empty, caughtUpThrough: 301, mode: .applyHeld(sweepId: held.sweepId))
    }
    #expect(throws: HeldSweepError.unknownSweep(999)) {
      try ledger.writer.reconcile(empty, caughtUpThrough: 301, mode: .applyHeld(sweepId: 999))
    }
  }

  @Test func aLaterSweepSupersedesAHeldOne() throws {
    let ledger = try Self.ledger(deals: 300)
    let held = try #require(try ledger.writer.reconcile(
      PlatformSnapshot(serverId: F.serverId, deals: []), caughtUpThrough: 301, mode: .sweep(limit: .default)))
    let platform = (1...300).map { R.deal(F.deal(UInt64($0), seq: UInt64($0) + 1)) }
    let later = try #require(try ledger.writer.reconcile(
      PlatformSnapshot(serverId: F.serverId, deals: platform), caughtUpThrough: 301, mode: .sweep(limit: .default)))
    #expect(!later.held && later.divergences.isEmpty)
    #expect(try R.text(ledger, "SELECT status FROM reconciliation_sweeps WHERE id = \(held.sweepId)") == "superseded")
    #expect(throws: HeldSweepError.notHeld(held.sweepId, status: "superseded")) {
      try ledger.writer.reconcile(
        PlatformSnapshot(serverId: F.serverId, deals: []), caughtUpThrough: 301, mode: .applyHeld(sweepId: held.sweepId))
    }
    #expect(try R.count(ledger, "SELECT count(*) FROM deals WHERE deleted = 1") == 0)
  }
}
