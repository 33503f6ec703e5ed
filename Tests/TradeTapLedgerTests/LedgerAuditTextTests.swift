import GRDB
import Testing
import TradeTapEvents
import TradeTapLedger

/// The audit text the writer composes in place (no `String` per value): the exact
/// bytes CRM queries read, for every kind and for the decimals' edge cases.
@Suite("Ledger: audit and UTC text is exact")
struct LedgerAuditTextTests {
  @Test func summariesAndUTCTimesAreStoredExactly() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.deal(71, entry: .out, volumeExt: 250_000, profit: "-0.05", seq: 1),
      Fixtures.user(1001, balance: "1234567.89", credit: "0.00", seq: 2),
      Fixtures.position(900, volumeExt: 0, seq: 3, kind: .positionUpdate),
      Fixtures.mt4Trade(-5, login: 2002, command: .sell, profit: "-12.30", closed: true, seq: 4),
      Fixtures.deal(72, profit: "7", seq: 5),
    ])
    let rows = try ledger.read {
      try Row.fetchAll($0, sql: "SELECT seq, summary, time_utc FROM events ORDER BY seq")
    }.map { [$0["summary"] as String, ($0["time_utc"] as String?) ?? "NULL"] }
    #expect(rows == [
      ["deal 71 login 1001 action 0 entry 1 volume_ext 250000 profit -0.05", "2025-11-24T14:00:01.000Z"],
      ["user 1001 balance 1234567.89 credit 0.00", "2025-11-24T14:00:00.002Z"],
      ["position 900 login 1001 volume_ext 0 profit 5.50", "2025-11-24T14:00:00.003Z"],
      ["trade -5 login 2002 cmd 1 mode 0 profit -12.30", "2025-11-24T14:01:00.000Z"],
      ["deal 72 login 1001 action 0 entry 0 volume_ext 100000000 profit 7", "2025-11-24T14:00:05.000Z"],
    ])
    let deal = try ledger.read {
      try Row.fetchOne($0, sql: "SELECT price, contract_size, profit, commission, time_utc FROM deals WHERE deal = 71")
    }
    #expect(deal?["price"] == "1.08345")
    #expect(deal?["contract_size"] == "100000")
    #expect(deal?["profit"] == "-0.05")
    #expect(deal?["commission"] == "-0.70")
    #expect(deal?["time_utc"] == "2025-11-24T14:00:01.000Z")
  }

  @Test func textLongerThanTheBindBufferIsStoredWhole() throws {
    let (ledger, _) = try Fixtures.ledger()
    let comment = String(repeating: "é", count: 20_000)
    try ledger.writer.apply([Fixtures.deal(1, comment: comment, seq: 1), Fixtures.deal(2, comment: "short", seq: 2)])
    let comments = try ledger.read { try String.fetchAll($0, sql: "SELECT comment FROM deals ORDER BY deal") }
    #expect(comments == [comment, "short"])
  }
}
