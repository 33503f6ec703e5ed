import Foundation
import GRDB
import Testing
import TradeTapEvents
import TradeTapLedger

@Suite("Ledger: money is exact and typed")
struct LedgerMoneyTests {
  @Test func partialFillsAreSeparateDeals() throws {
    let (ledger, _) = try Fixtures.ledger()
    // One order of 1.00 lot filled in three parts: three deals, one order.
    try ledger.writer.apply([
      Fixtures.deal(21, order: 700, volumeExt: 30_000_000, seq: 1),
      Fixtures.deal(22, order: 700, volumeExt: 50_000_000, seq: 2),
      Fixtures.deal(23, order: 700, volumeExt: 20_000_000, seq: 3),
    ])
    let deals = try ledger.read { try DealRow.order(Column("deal")).fetchAll($0) }
    #expect(deals.map(\.deal) == [21, 22, 23])
    #expect(deals.map(\.order) == [700, 700, 700])
    #expect(deals.map(\.volumeExt) == [30_000_000, 50_000_000, 20_000_000])
  }

  @Test func creditIsNeverMixedIntoTheBalance() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.deal(31, action: .balance, profit: "1000.00", seq: 1),
      Fixtures.deal(32, action: .credit, profit: "500.00", seq: 2),
      Fixtures.user(1001, balance: "1000.00", credit: "500.00", seq: 3),
      Fixtures.deal(33, action: .credit, profit: "-200.00", seq: 4),
      Fixtures.user(1001, balance: "1000.00", credit: "300.00", seq: 5),
    ])
    let account = try #require(try ledger.read { try AccountRow.fetchOne($0) })
    #expect(account.balance == "1000.00")
    #expect(account.credit == "300.00")
    let operations = try ledger.read { try BalanceOperationRow.order(Column("ticket")).fetchAll($0) }
    #expect(operations.map(\.type) == ["deposit", "credit_in", "credit_out"])
    #expect(operations.map(\.amount) == ["1000.00", "500.00", "-200.00"])
    #expect(operations.allSatisfy { $0.source == "mt5_deal" })
  }

  @Test func tradesAreNotBalanceOperations() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.deal(41, action: .buy, seq: 1),
      Fixtures.deal(42, action: .buyCanceled, seq: 2),
      Fixtures.deal(43, action: .bonus, profit: "50.00", seq: 3),
      Fixtures.deal(44, action: .commissionDaily, profit: "-3.10", seq: 4),
    ])
    let operations = try ledger.read { try BalanceOperationRow.order(Column("ticket")).fetchAll($0) }
    #expect(operations.map(\.ticket) == [43, 44])
    #expect(operations.map(\.type) == ["bonus", "commission_daily"])
    #expect(try ledger.read { try DealRow.fetchCount($0) } == 4)
  }

  @Test func mt4BalanceAndCreditRecordsAreTyped() throws {
    let (ledger, _) = try Fixtures.ledger()
    let info = TradeUserInfo(
      login: 2002, group: "mt4\\real", name: "Four", leverage: 200, balance: Fixtures.money("250.00"),
      credit: Fixtures.money("0.00"))
    try ledger.writer.apply([
      Fixtures.mt4Trade(5001, command: .balance, profit: "300.00", comment: "Deposit wire", closed: true, seq: 1),
      Fixtures.mt4Trade(5002, command: .balance, profit: "-50.00", comment: "Withdrawal", closed: true, seq: 2),
      Fixtures.mt4Trade(5003, command: .credit, profit: "100.00", comment: "Credit", closed: true, seq: 3),
      Fixtures.mt4Trade(
        5004, command: .credit, profit: "-100.00", comment: "Credit out", closed: true, user: info, seq: 4),
    ])
    let operations = try ledger.read { try BalanceOperationRow.order(Column("ticket")).fetchAll($0) }
    #expect(operations.map(\.type) == ["deposit", "withdrawal", "credit_in", "credit_out"])
    #expect(operations.map(\.amount) == ["300.00", "-50.00", "100.00", "-100.00"])
    #expect(operations.map(\.platformCode) == [6, 6, 7, 7])
    #expect(operations.allSatisfy { $0.source == "mt4_trade" })
    let trades = try ledger.read { try TradeRow.fetchAll($0) }
    #expect(trades.count == 4)
    #expect(trades.allSatisfy { !$0.isOpen })
    let account = try #require(try ledger.read { try AccountRow.fetchOne($0) })
    #expect(account.login == 2002)
    #expect(account.balance == "250.00")
    #expect(account.credit == "0.00")
  }

  @Test func mt4TradeIsUpsertedToItsLatestState() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.mt4Trade(6001, command: .buy, profit: "0.00", seq: 1),
      Fixtures.mt4Trade(
        6001, command: .buy, profit: "42.10", closed: true, mode: .update(.close), seq: 2, kind: .tradeUpdate),
    ])
    let trades = try ledger.read { try TradeRow.fetchAll($0) }
    #expect(trades.count == 1)
    #expect(trades.first?.profit == "42.10")
    #expect(trades.first?.isOpen == false)
    #expect(trades.first?.lastMode == 2)
  }

  @Test func moneyIsStoredAsDecimalTextNeverReal() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([
      Fixtures.user(1001, balance: "0.10", credit: "0.20", seq: 1),
      Fixtures.deal(51, action: .balance, profit: "0.30", seq: 2),
      Fixtures.mt4Trade(5101, command: .balance, profit: "0.70", closed: true, seq: 3),
    ])
    let types = try ledger.read { db in
      try String.fetchAll(db, sql: """
        SELECT DISTINCT typeof(balance) FROM accounts UNION SELECT DISTINCT typeof(credit) FROM accounts
        UNION SELECT DISTINCT typeof(profit) FROM deals UNION SELECT DISTINCT typeof(price) FROM deals
        UNION SELECT DISTINCT typeof(amount) FROM balance_operations UNION SELECT DISTINCT typeof(profit) FROM trades
        """)
    }
    #expect(types == ["text"])
    let sum = try ledger.read { try String.fetchOne($0, sql: "SELECT group_concat(amount) FROM balance_operations") }
    #expect(sum == "0.30,0.70")
  }

  @Test func bothBrokerTimeAndUTCAreStored() throws {
    let (ledger, _) = try Fixtures.ledger()
    try ledger.writer.apply([Fixtures.deal(61, seq: 1)])
    let deal = try #require(try ledger.read { try DealRow.fetchOne($0) })
    // Broker time is UTC+2 (offset 120): the UTC text is two hours earlier.
    #expect(deal.timeMsc == Fixtures.dayStart + 1000)
    #expect(deal.timeUtc == UTCTime.text(millisecondsSinceEpoch: Fixtures.dayStart + 1000 - 7_200_000))
    #expect(UTCTime.text(millisecondsSinceEpoch: 1_764_000_001_000) == "2025-11-24T16:00:01.000Z")
  }

  @Test func storedDecimalTextIsExactlyThePlatformDecimals() throws {
    let (ledger, _) = try Fixtures.ledger()
    var generator = SystemRandomNumberGenerator()
    var values: [ExactDecimal] = [
      ExactDecimal(mantissa: 0, scale: 2)!, ExactDecimal(mantissa: -5, scale: 2)!, ExactDecimal(mantissa: 7, scale: 0)!,
      ExactDecimal(mantissa: .min, scale: 18)!, ExactDecimal(mantissa: .max, scale: 0)!, ExactDecimal(mantissa: -1, scale: 8)!,
    ]
    for _ in 0..<500 {
      values.append(ExactDecimal(mantissa: Int64.random(in: -10_000_000_000...10_000_000_000, using: &generator),
                                 scale: UInt8.random(in: 0...8, using: &generator))!)
    }
    let events = values.enumerated().map { index, value in
      var event = Fixtures.deal(UInt64(index + 1), seq: UInt64(index + 1))
      if case .deal(var deal) = event.body { deal.profit = value; event.body = .deal(deal) }
      return event
    }
    try ledger.writer.apply(events)
    let stored = try ledger.read { try String.fetchAll($0, sql: "SELECT profit FROM deals ORDER BY deal") }
    #expect(stored == values.map(\.description))
  }

  @Test func utcTextMatchesTheCalendar() {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    for ms: Int64 in [0, 951_782_400_000, 1_709_164_800_123, 4_102_444_799_999, -86_400_001, 1_764_000_000_000] {
      let expected = formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
      #expect(UTCTime.text(millisecondsSinceEpoch: ms) == expected)
    }
  }
}
