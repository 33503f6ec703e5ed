import Testing
import TradeTapSimulator

@Suite("Money, credit and stop-out")
struct MoneyAndRiskTests {
  @Test func amountsRoundHalfAwayFromZeroToTheCurrencyDigitsLikeNormalizeDouble() {
    #expect(Money.minorUnits(1.005, digits: 2) == 101)  // binary 1.00499999... still rounds up
    #expect(Money.minorUnits(-1.005, digits: 2) == -101)
    #expect(Money.minorUnits(0.125, digits: 2) == 13)
    #expect(Money.minorUnits(2.675, digits: 2) == 268)
    #expect(Money.minorUnits(0.1 + 0.2, digits: 2) == 30)
    #expect(Money.minorUnits(12.3449, digits: 2) == 1_234)
    #expect(Money.minorUnits(1.5, digits: 0) == 2)
  }

  @Test func decimalTextIsExact() {
    #expect(Money.decimalString(-5, digits: 2) == "-0.05")
    #expect(Money.decimalString(123_456, digits: 2) == "1234.56")
    #expect(Money.decimalString(7, digits: 0) == "7")
    #expect(Money.parse("-12.5", digits: 2) == -1_250)
    #expect(Money.parse("1.234", digits: 2) == nil)
    #expect(Money.parse("abc", digits: 2) == nil)
  }

  @Test func profitIsPriceMoveTimesContractSizeTimesLotsRoundedToCents() throws {
    let server = try mt5Server(.hedging)
    let ticket = try server.marketOrder(login: 7001, symbol: "XAUUSD", buy: true, volumeExt: lots("0.03"),
                                        fills: [Fill(volumeExt: lots("0.03"), pricePoints: 265_013)])
    try server.closePosition(ticket, fills: [Fill(volumeExt: lots("0.03"), pricePoints: 265_146)])
    // (2651.46 − 2650.13) × 100 × 0.03 = 3.99 (the double is 3.9899999999...)
    #expect(deals(server.events).last?.profit == 399)
  }

  @Test func aWithdrawalCannotTakeCredit() throws {
    let server = try mt5Server(.hedging, deposit: 10_000, credit: 50_000)
    #expect(throws: TradeRejection.insufficientBalance(requested: 20_000, available: 10_000)) {
      try server.balanceOperation(login: 7001, action: .balance, amount: -20_000)
    }
    #expect(server.events.isEmpty)
    try server.balanceOperation(login: 7001, action: .balance, amount: -10_000)
    #expect(server.accounts[7001]!.balance == 0)
    #expect(server.accounts[7001]!.credit == 50_000)
    #expect(throws: TradeRejection.self) { try server.balanceOperation(login: 7001, action: .balance, amount: -1) }
  }

  @Test func creditOutCannotTakeMoreThanTheCredit() throws {
    let server = try mt5Server(.hedging, deposit: 10_000, credit: 5_000)
    #expect(throws: TradeRejection.insufficientBalance(requested: 6_000, available: 5_000)) {
      try server.balanceOperation(login: 7001, action: .credit, amount: -6_000)
    }
    #expect(server.accounts[7001]!.balance == 10_000)
  }

  @Test func marginUsedByOpenPositionsIsNotWithdrawable() throws {
    let server = try mt5Server(.hedging, deposit: 200_000)
    try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
                           fills: [Fill(volumeExt: lots("1.00"), pricePoints: server.feed.ask(0))])
    let account = try #require(server.accounts[7001])
    #expect(server.withdrawable(account) < account.balance)
  }

  @Test func equityBelowTheStopOutLevelClosesTheLosingPositionWithReasonSO() throws {
    let server = try mt5Server(.hedging, deposit: 100_000)
    let ticket = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
                                        fills: [Fill(volumeExt: lots("1.00"), pricePoints: eurusd("1.10000"))])
    server.feed.setBid(0, points: eurusd("1.09600"))
    #expect(server.enforceStopOut(login: 7001) == 0)  // 596.5 / 1096 = 54 %: above 50 %
    server.feed.setBid(0, points: eurusd("1.09500"))
    server.events.removeAll()
    #expect(server.enforceStopOut(login: 7001) == 1)  // 496.5 / 1095 = 45 %
    let close = try #require(deals(server.events).last)
    #expect(close.reason == Reason.stopOut)
    #expect(close.comment.hasPrefix("so: "))
    #expect(close.profit == -50_000)
    #expect(server.positions[ticket] == nil)
    #expect(server.accounts[7001]!.balance == 100_000 - 350 - 50_000 - 350)
  }

  @Test func aNegativeBalanceAfterStopOutIsCompensatedAndCreditStaysCredit() throws {
    let server = try mt5Server(.hedging, deposit: 100_000, credit: 200_000)
    try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
                           fills: [Fill(volumeExt: lots("1.00"), pricePoints: eurusd("1.10000"))])
    server.feed.setBid(0, points: eurusd("1.07000"))
    server.events.removeAll()
    server.enforceStopOut(login: 7001)
    let compensation = try #require(deals(server.events).last)
    #expect(compensation.action == .soCompensation)
    #expect(compensation.profit == 200_700)  // 1000 − 3000 − 7 = −2007.00 brought back to 0
    #expect(server.accounts[7001]!.balance == 0)
    #expect(server.accounts[7001]!.credit == 200_000)
  }
}
