import Testing
import TradeTapSimulator

func mt4Server(deposit: Int64 = 1_000_000, credit: Int64 = 0) throws -> MT4TradeServer {
  let server = MT4TradeServer(clock: fixedClock)
  try server.createAccount(Account(login: 4001, group: "real", name: "Spec", marginMode: .hedging, leverage: 100,
                                   timeMsc: 0))
  try server.balanceOperation(login: 4001, credit: false, amount: deposit, comment: "deposit")
  if credit > 0 { try server.balanceOperation(login: 4001, credit: true, amount: credit, comment: "credit") }
  server.events.removeAll()
  return server
}

func trades(_ events: [ServerEvent]) -> [(TradeRecord, Int32, Bool)] {
  events.compactMap { event in
    switch event {
    case .tradeAdd(let t, _, let mode): (t, mode, true)
    case .tradeUpdate(let t, _, let mode): (t, mode, false)
    default: nil
    }
  }
}

@Suite("MT4 trades")
struct MT4TradeTests {
  @Test func aPartialCloseKeepsTheTicketForTheClosedPartAndReopensTheRestFromIt() throws {
    let server = try mt4Server()
    let ticket = try server.openTrade(login: 4001, symbol: "EURUSD", buy: true, volume: 100, pricePoints: eurusd("1.10000"))
    server.events.removeAll()
    let rest = try #require(try server.closeTrade(ticket, volume: 40, pricePoints: eurusd("1.10050")))
    #expect(rest != ticket)
    let records = trades(server.events)
    #expect(records.count == 2)
    let (closed, closeMode, _) = records[0]
    #expect(closed.ticket == ticket && closeMode == TradeMode.updateClose)
    #expect(closed.volume == 40 && closed.closeTime != 0 && closed.comment == "to #\(rest)")
    #expect(closed.profit == 2_000)  // 0.00050 × 100,000 × 0.40
    #expect(closed.commission == -280)  // 40 % of the 7.00 round-turn commission
    let (remainder, addMode, isAdd) = records[1]
    #expect(isAdd && addMode == TradeMode.openClose)
    #expect(remainder.ticket == rest && remainder.volume == 60 && remainder.comment == "from #\(ticket)")
    #expect(remainder.openPricePoints == eurusd("1.10000") && remainder.commission == -420)
    #expect(server.openTrades[ticket] == nil && server.openTrades[rest]?.volume == 60)
    #expect(server.accounts[4001]!.balance == 1_000_000 + 2_000 - 280)
    #expect(hookNames(server.events).last == "user_update")
  }

  @Test func balanceAndCreditOperationsAreClosedRecordsWithTheAmountInProfit() throws {
    let server = try mt4Server()
    let deposit = try server.balanceOperation(login: 4001, credit: false, amount: 12_345, comment: "wire #77")
    let credit = try server.balanceOperation(login: 4001, credit: true, amount: 50_000, comment: "bonus line")
    let records = trades(server.events)
    #expect(records.map(\.0.cmd) == [TradeRecord.opBalance, TradeRecord.opCredit])
    #expect(records.map(\.0.profit) == [12_345, 50_000])
    #expect(records.map(\.0.ticket) == [deposit, credit])
    #expect(records.allSatisfy { $0.0.symbol.isEmpty && $0.0.closeTime != 0 && $0.1 == TradeMode.openNew })
    #expect(records[0].0.comment == "wire #77")
    #expect(server.history.suffix(2).map(\.ticket) == [deposit, credit])
    #expect(server.accounts[4001]!.credit == 50_000)
    #expect(hookNames(server.events) == ["trade_add(0)", "user_update", "trade_add(0)", "user_update"])
  }

  @Test func aCommentLongerThanTheRecordsFieldIsStoredCutAsTheHookCarriesIt() throws {
    let server = try mt4Server()
    let ticket = try server.balanceOperation(login: 4001, credit: false, amount: 100,
                                             comment: "Deposit via bank wire reference 2026-11-25-ABCDEF")
    #expect(server.history.last?.ticket == ticket)
    #expect(server.history.last?.comment == "Deposit via bank wire reference")  // 31 bytes
  }

  @Test func aWithdrawalCannotTakeCredit() throws {
    let server = try mt4Server(deposit: 10_000, credit: 90_000)
    #expect(throws: TradeRejection.insufficientBalance(requested: 10_001, available: 10_000)) {
      try server.balanceOperation(login: 4001, credit: false, amount: -10_001, comment: "withdrawal")
    }
    try server.balanceOperation(login: 4001, credit: false, amount: -10_000, comment: "withdrawal")
    #expect(server.accounts[4001]!.balance == 0 && server.accounts[4001]!.credit == 90_000)
  }

  @Test func balanceChangesOnlyWhenATradeClosesWithProfitCommissionAndSwap() throws {
    let server = try mt4Server()
    let ticket = try server.openTrade(login: 4001, symbol: "EURUSD", buy: false, volume: 100, pricePoints: eurusd("1.10000"))
    server.rollover()
    #expect(server.accounts[4001]!.balance == 1_000_000)
    try server.closeTrade(ticket, pricePoints: eurusd("1.09900"))
    // +100.00 profit, −7.00 commission, +1.92 swap
    #expect(server.accounts[4001]!.balance == 1_000_000 + 10_000 - 700 + 192)
  }

  @Test func modifyActivateAndDeleteUseTheirUpdateModes() throws {
    let server = try mt4Server()
    let pending = try server.placePendingOrder(login: 4001, symbol: "EURUSD", cmd: TradeRecord.opBuyLimit, volume: 10,
                                               pricePoints: eurusd("1.08000"))
    let other = try server.placePendingOrder(login: 4001, symbol: "EURUSD", cmd: TradeRecord.opSellStop, volume: 10,
                                             pricePoints: eurusd("1.07000"))
    try server.activatePendingOrder(pending)
    try server.modifyTrade(pending, slPoints: eurusd("1.07500"), tpPoints: eurusd("1.09000"))
    try server.deletePendingOrder(other)
    #expect(hookNames(server.events) == ["trade_add(0)", "trade_add(0)", "trade_update(1)", "trade_update(0)", "trade_update(3)"])
    #expect(server.openTrades[pending]?.cmd == TradeRecord.opBuy)
  }

  @Test func stopOutClosesTheLosingTradeAndCorrectsANegativeBalanceWithoutTouchingCredit() throws {
    let server = try mt4Server(deposit: 100_000, credit: 200_000)
    try server.openTrade(login: 4001, symbol: "EURUSD", buy: true, volume: 100, pricePoints: eurusd("1.10000"))
    server.feed.setBid(0, points: eurusd("1.07000"))
    server.events.removeAll()
    #expect(server.enforceStopOut(login: 4001) == 1)
    let records = trades(server.events)
    #expect(records[0].0.comment.hasPrefix("so: ") && records[0].1 == TradeMode.updateClose)
    #expect(records.last?.0.cmd == TradeRecord.opBalance)
    #expect(server.accounts[4001]!.balance == 0 && server.accounts[4001]!.credit == 200_000)
  }
}
