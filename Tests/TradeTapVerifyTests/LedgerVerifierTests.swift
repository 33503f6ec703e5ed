import Foundation
import GRDB
import Testing
import TradeTapLedger
import TradeTapVerify

@Suite("Verify against the ledger", .serialized)
struct LedgerVerifierTests {
  @Test func aLedgerHoldingThePlatformsStateHasNoDivergence() throws {
    let (state, _) = try simulatedState(.mt5, name: "faithful")
    let (ledger, _) = try faithfulLedger(state, name: "faithful")
    let report = try LedgerVerifier.verify(state, ledger: ledger.pool)
    #expect(report.divergences == [])
    #expect(report.accounts == 20 && report.deals == state.deals?.count && report.positions == state.positions?.count)
    #expect(report.summary == "verify: 20 accounts, \(report.deals) deals, \(report.positions) positions, 0 divergences")
  }

  @Test func aBalanceOneCentOffIsADivergence() throws {
    let (state, _) = try simulatedState(.mt5, name: "cent")
    let (ledger, _) = try faithfulLedger(state, name: "cent")
    let login = state.accounts[3].login
    try ledger.pool.write { db in
      let balance = try String.fetchOne(db, sql: "SELECT balance FROM accounts WHERE login = ?", arguments: [login])!
      let shifted = (Decimal(string: balance)! + Decimal(string: "0.01")!).description
      try db.execute(sql: "UPDATE accounts SET balance = ? WHERE login = ?", arguments: [shifted, login])
    }
    let report = try LedgerVerifier.verify(state, ledger: ledger.pool)
    #expect(report.divergences.count == 1)
    #expect(report.divergences.first?.description.hasPrefix("account \(login) balance: platform \(state.accounts[3].balance), ledger ") == true)
  }

  @Test func creditCountedAsBalanceIsTwoDivergences() throws {
    let (state, _) = try simulatedState(.mt5, name: "credit")
    let (ledger, _) = try faithfulLedger(state, name: "credit")
    let account = try #require(state.accounts.first { Decimal(string: $0.credit)! > 0 })
    try ledger.pool.write { db in
      let merged = (Decimal(string: account.balance)! + Decimal(string: account.credit)!).description
      try db.execute(sql: "UPDATE accounts SET balance = ?, credit = '0.00' WHERE login = ?",
                     arguments: [merged, account.login])
    }
    let fields = try LedgerVerifier.verify(state, ledger: ledger.pool).divergences.map(\.field)
    #expect(fields == ["balance", "credit"])
  }

  @Test func aMissingDealAnUnexpectedPositionAndAWrongVolumeAreEachReported() throws {
    let (state, _) = try simulatedState(.mt5, name: "rows")
    let (ledger, _) = try faithfulLedger(state, name: "rows")
    let deal = try #require(state.deals?[10])
    let position = try #require(state.positions?.first)
    try ledger.pool.write { db in
      try db.execute(sql: "DELETE FROM deals WHERE deal = ?", arguments: [deal.deal])
      try db.execute(sql: "UPDATE positions SET volume_ext = volume_ext + 1000000 WHERE position = ?",
                     arguments: [position.position])
      try db.execute(sql: """
        INSERT INTO positions (server_id, position, login, symbol, action, digits, volume_ext, price_open, price_current,
          profit, storage, time_create_msc, time_create_utc, time_update_msc, time_update_utc, updated_seq)
        VALUES (3, 99999999, 10000, 'EURUSD', 0, 5, 1000000, '1.10000', '0', '0', '0', 0, '', 0, '', 1)
        """)
    }
    let lines = try LedgerVerifier.verify(state, ledger: ledger.pool).divergences.map(\.description)
    #expect(lines.contains("deal \(deal.deal): on the platform, missing from the ledger"))
    #expect(lines.contains("position 99999999: in the ledger, not on the platform"))
    #expect(lines.contains { $0.hasPrefix("position \(position.position) volume_ext: platform \(position.volume_ext), ledger ") })
    #expect(lines.count == 3)
  }

  @Test func decimalsCompareByValueNotByText() throws {
    let (state, _) = try simulatedState(.mt5, name: "scale")
    let (ledger, _) = try faithfulLedger(state, name: "scale")
    try ledger.pool.write { db in
      try db.execute(sql: "UPDATE accounts SET credit = '0' WHERE credit = '0.00'")
      try db.execute(sql: "UPDATE deals SET fee = '0.0000'")
    }
    #expect(try LedgerVerifier.verify(state, ledger: ledger.pool).divergences == [])
  }

  @Test func anotherServersRowsAreNotCompared() throws {
    let (state, _) = try simulatedState(.mt5, name: "servers")
    let (ledger, _) = try faithfulLedger(state, name: "servers")
    try ledger.pool.write { db in
      try db.execute(sql: "INSERT INTO servers (id) VALUES (4)")
      try db.execute(sql: "INSERT INTO accounts (server_id, login, balance, credit, updated_seq) VALUES (4, 1, '5', '0', 1)")
    }
    #expect(try LedgerVerifier.verify(state, ledger: ledger.pool).divergences == [])
    let other = try LedgerVerifier.verify(state, ledger: ledger.pool, serverID: 4)
    #expect(other.divergences.contains { $0.field == "unexpected" && $0.key == 1 })
  }

  @Test func mt4OpenTradesAndHistoryAreComparedTicketByTicket() throws {
    let (state, _) = try simulatedState(.mt4, name: "mt4")
    let (ledger, _) = try faithfulLedger(state, name: "mt4")
    let clean = try LedgerVerifier.verify(state, ledger: ledger.pool)
    #expect(clean.divergences == [])
    #expect(clean.positions == state.trades?.count && clean.deals > 0)
    let closed = try #require(state.history?.first { $0.cmd == 0 || $0.cmd == 1 })
    let open = try #require(state.trades?.first)
    try ledger.pool.write { db in
      try db.execute(sql: "UPDATE trades SET profit = '0.01' WHERE ticket = ?", arguments: [closed.ticket])
      try db.execute(sql: "UPDATE trades SET comment = 'tampered' WHERE ticket = ?", arguments: [open.ticket])
    }
    let fields = try LedgerVerifier.verify(state, ledger: ledger.pool).divergences.map { "\($0.subject) \($0.field)" }
    #expect(fields.contains("history profit") || closed.profit == "0.01")
    #expect(fields.contains("trade comment"))
  }

  @Test func aNonSQLiteURLIsRefusedWithAClearReason() {
    #expect(throws: VerifyError.self) { try LedgerVerifier.openLedger(url: "postgres://u:p@h:5432/db") }
    #expect(throws: VerifyError.unreadableLedger("no ledger at /nonexistent/x.sqlite")) {
      try LedgerVerifier.openLedger(url: "sqlite:/nonexistent/x.sqlite")
    }
  }
}
