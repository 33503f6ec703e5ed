import Testing
import TradeTapSimulator

/// A fixed broker clock, so every test is exactly repeatable.
func fixedClock() -> Int64 { 1_764_000_000_000 }

func mt5Server(_ mode: MarginMode, deposit: Int64 = 1_000_000, credit: Int64 = 0, leverage: UInt32 = 100) throws
  -> MT5TradeServer
{
  let server = MT5TradeServer(clock: fixedClock)
  try server.createAccount(Account(login: 7001, group: "real\\\(mode.name)", name: "Spec", marginMode: mode,
                                   leverage: leverage, timeMsc: 0))
  try server.balanceOperation(login: 7001, action: .balance, amount: deposit)
  if credit > 0 { try server.balanceOperation(login: 7001, action: .credit, amount: credit) }
  server.events.removeAll()
  return server
}

func eurusd(_ text: String) -> Int64 { Money.parse(text, digits: 5)! }
func lots(_ text: String) -> UInt64 { Volume.parseLots(text)! }

/// Short names of hook calls, for order checks.
func hookNames(_ events: [ServerEvent]) -> [String] {
  events.map { event in
    switch event {
    case .orderAdd: "order_add"
    case .orderUpdate(let o): "order_update(\(o.state))"
    case .orderDelete(let o): "order_delete(\(o.state))"
    case .dealAdd(let d): "deal_add(\(d.entry))"
    case .dealUpdate: "deal_update"
    case .positionAdd: "position_add"
    case .positionUpdate: "position_update"
    case .positionDelete: "position_delete"
    case .tradeAdd(_, _, let mode): "trade_add(\(mode))"
    case .tradeUpdate(_, _, let mode): "trade_update(\(mode))"
    case .userAdd: "user_add"
    case .userUpdate: "user_update"
    case .userDelete: "user_delete"
    }
  }
}

func deals(_ events: [ServerEvent]) -> [Deal] {
  events.compactMap { if case .dealAdd(let d) = $0 { d } else { nil } }
}

@Suite("MT5 execution")
struct MT5ExecutionTests {
  @Test func aMarketOrderFilledInPartsBooksOneDealPerFillAndAveragesThePositionPrice() throws {
    let server = try mt5Server(.hedging)
    let order = try server.marketOrder(
      login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
      fills: [Fill(volumeExt: lots("0.30"), pricePoints: eurusd("1.10000")),
              Fill(volumeExt: lots("0.50"), pricePoints: eurusd("1.10010")),
              Fill(volumeExt: lots("0.20"), pricePoints: eurusd("1.10020"))])
    let fills = deals(server.events)
    #expect(fills.map(\.volumeExt) == [lots("0.30"), lots("0.50"), lots("0.20")])
    #expect(fills.map(\.pricePoints) == [eurusd("1.10000"), eurusd("1.10010"), eurusd("1.10020")])
    #expect(fills.allSatisfy { $0.order == order && $0.positionID == order && $0.entry == .entryIn })
    #expect(fills.map(\.commission) == [-105, -175, -70])
    let position = try #require(server.positions[order])
    #expect(position.volumeExt == lots("1.00"))
    #expect(Money.minorUnits(position.priceOpen, digits: 5) == eurusd("1.10009"))
    #expect(server.accounts[7001]!.balance == 1_000_000 - 350)
    #expect(hookNames(server.events) == [
      "order_add",
      "order_update(partial)", "deal_add(entryIn)", "position_add", "user_update",
      "order_update(partial)", "deal_add(entryIn)", "position_update", "user_update",
      "order_update(filled)", "deal_add(entryIn)", "position_update", "user_update",
      "order_delete(filled)",
    ])
  }

  @Test func theUserUpdateAfterADealAlreadyShowsTheDealInTheBalance() throws {
    let server = try mt5Server(.netting)
    try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
                           fills: [Fill(volumeExt: lots("1.00"), pricePoints: eurusd("1.10000"))])
    var balanceBefore: Int64 = 1_000_000
    for event in server.events {
      if case .dealAdd(let deal) = event { balanceBefore += deal.balanceChange }
      if case .userUpdate(let account) = event { #expect(account.balance == balanceBefore) }
    }
  }

  @Test func anOppositeDealLargerThanANettingPositionReversesItWithOneInOutDeal() throws {
    let server = try mt5Server(.netting)
    let opened = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
                                        fills: [Fill(volumeExt: lots("1.00"), pricePoints: eurusd("1.10000"))])
    server.events.removeAll()
    try server.marketOrder(login: 7001, symbol: "EURUSD", buy: false, volumeExt: lots("1.50"),
                           fills: [Fill(volumeExt: lots("1.50"), pricePoints: eurusd("1.10100"))])
    let reversal = try #require(deals(server.events).first)
    #expect(reversal.entry == .inOut)
    #expect(reversal.volumeExt == lots("1.50"))
    #expect(reversal.profit == 10_000)  // 0.00100 × 100,000 × 1 lot = 100.00
    #expect(reversal.positionID == opened)
    let position = try #require(server.positions[opened])
    #expect(!position.isBuy)
    #expect(position.volumeExt == lots("0.50"))
    #expect(position.priceOpen == 1.101)
    #expect(server.positions.count == 1)
    #expect(server.accounts[7001]!.balance == 1_000_000 - 350 - 525 + 10_000)
    #expect(hookNames(server.events).contains("position_update"))
  }

  @Test func anOppositeDealSmallerThanANettingPositionReducesItWithAnOutDeal() throws {
    let server = try mt5Server(.netting)
    let opened = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
                                        fills: [Fill(volumeExt: lots("1.00"), pricePoints: eurusd("1.10000"))])
    try server.marketOrder(login: 7001, symbol: "EURUSD", buy: false, volumeExt: lots("0.25"),
                           fills: [Fill(volumeExt: lots("0.25"), pricePoints: eurusd("1.09960"))])
    let close = try #require(deals(server.events).last)
    #expect(close.entry == .out)
    #expect(close.profit == -1_000)  // −0.00040 × 100,000 × 0.25 = −10.00
    #expect(server.positions[opened]?.volumeExt == lots("0.75"))
  }

  @Test func closeByClosesBothPositionsForTheSmallerVolumeWithTwoOutByDeals() throws {
    let server = try mt5Server(.hedging)
    let long = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"),
                                      fills: [Fill(volumeExt: lots("1.00"), pricePoints: eurusd("1.10000"))])
    let short = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: false, volumeExt: lots("0.40"),
                                       fills: [Fill(volumeExt: lots("0.40"), pricePoints: eurusd("1.10200"))])
    #expect(server.positions.count == 2)
    let balance = server.accounts[7001]!.balance
    server.events.removeAll()
    try server.closeBy(long, by: short)
    let pair = deals(server.events)
    #expect(pair.count == 2)
    #expect(pair.allSatisfy { $0.entry == .outBy && $0.volumeExt == lots("0.40") && $0.commission == 0 })
    #expect(pair.map(\.positionID) == [long, short])
    #expect(pair.map(\.profit) == [8_000, 0])  // (1.10200 − 1.10000) × 100,000 × 0.4
    #expect(pair.map(\.action) == [.sell, .buy])
    #expect(server.positions[long]?.volumeExt == lots("0.60"))
    #expect(server.positions[short] == nil)
    #expect(server.accounts[7001]!.balance == balance + 8_000)
  }

  @Test func closeByIsRefusedOnANettingAccount() throws {
    let server = try mt5Server(.netting)
    let long = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("1.00"))
    #expect(throws: TradeRejection.hedgingOnly) { try server.closeBy(long, by: long) }
  }

  @Test func aPendingOrderThatActivatesFillsAtItsPriceAndMovesToHistory() throws {
    let server = try mt5Server(.hedging)
    let order = try server.placePendingOrder(login: 7001, symbol: "EURUSD", type: .buyLimit, volumeExt: lots("0.10"),
                                             pricePoints: eurusd("1.08000"))
    #expect(hookNames(server.events) == ["order_add"])
    server.events.removeAll()
    try server.activatePendingOrder(order)
    #expect(hookNames(server.events) == [
      "order_update(filled)", "deal_add(entryIn)", "position_add", "user_update", "order_delete(filled)",
    ])
    #expect(deals(server.events).first?.pricePoints == eurusd("1.08000"))
    #expect(server.pendingOrders.isEmpty)
  }

  @Test func aCanceledPendingOrderLeavesNoDeal() throws {
    let server = try mt5Server(.hedging)
    let order = try server.placePendingOrder(login: 7001, symbol: "XAUUSD", type: .sellStop, volumeExt: lots("0.10"),
                                             pricePoints: 250_000)
    try server.cancelPendingOrder(order)
    #expect(hookNames(server.events) == ["order_add", "order_delete(canceled)"])
    #expect(server.deals.count == 1)  // the deposit only
  }

  @Test func rolloverAccruesSwapInThePositionAndTheCloseRealisesIt() throws {
    let server = try mt5Server(.hedging)
    let ticket = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("2.00"),
                                        fills: [Fill(volumeExt: lots("2.00"), pricePoints: eurusd("1.10000"))])
    server.rollover()
    server.rollover()
    #expect(server.positions[ticket]?.storage == -2_740)  // 2 × (−6.85 × 2 lots)
    try server.closePosition(ticket, fills: [Fill(volumeExt: lots("2.00"), pricePoints: eurusd("1.10000"))])
    let close = try #require(deals(server.events).last)
    #expect(close.storage == -2_740)
    #expect(close.entry == .out)
    #expect(server.accounts[7001]!.balance == 1_000_000 - 700 - 700 - 2_740)
  }

  @Test func aDealersCommentCorrectionIsADealUpdateThatMovesNoMoney() throws {
    let server = try mt5Server(.netting)
    let deposit = try #require(server.deals.first)
    try server.correctDealComment(deposit.deal, comment: "wire ref 42")
    #expect(hookNames(server.events) == ["deal_update"])
    #expect(server.deals.first?.comment == "wire ref 42")
    #expect(server.accounts[7001]!.balance == 1_000_000)
  }

  @Test func anAccountWithAnOpenPositionCannotBeDeletedAndADeletedOneKeepsItsDeals() throws {
    let server = try mt5Server(.hedging)
    let ticket = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("0.10"))
    #expect(throws: TradeRejection.accountHasOpenTrades(7001)) { try server.deleteAccount(login: 7001) }
    try server.closePosition(ticket)
    server.events.removeAll()
    try server.deleteAccount(login: 7001)
    #expect(hookNames(server.events) == ["user_delete"])
    #expect(server.accounts[7001] == nil && server.deals.count == 3)
  }

  @Test func everyBalanceTypeActionIsADealAndOnlyCreditActionsMoveCredit() throws {
    let server = try mt5Server(.hedging)
    for action in DealAction.allCases where action.isBalanceType {
      try server.balanceOperation(login: 7001, action: action, amount: 1_000, comment: "\(action)")
    }
    let booked = deals(server.events)
    #expect(booked.count == 17)
    #expect(booked.allSatisfy { $0.order == 0 && $0.symbol.isEmpty && $0.profit == 1_000 })
    #expect(server.accounts[7001]!.credit == 2_000)  // credit and so_compensation_credit
    #expect(server.accounts[7001]!.balance == 1_000_000 + 15_000)
    #expect(hookNames(server.events).prefix(2) == ["deal_add(entryIn)", "user_update"])
  }
}
