/// The seeded trading day: each step moves a price and makes one account do one
/// thing a real client or dealer does (trade, close, place or fill a pending
/// order, deposit, withdraw, get credit or a bonus, be charged, roll over, be
/// stopped out). Everything follows from the generator, so a seed replays exactly.
enum TradingDay {
  /// Balance-type actions a dealer books, besides deposits and withdrawals.
  static let dealerActions: [DealAction] = [
    .credit, .bonus, .correction, .charge, .commission, .commissionDaily, .commissionMonthly, .agentDaily,
    .agentMonthly, .interestRate, .dividend, .dividendFranked, .tax, .agent,
  ]

  static func amount(_ rng: inout SeededGenerator, upTo dollars: Int) -> Int64 {
    Int64(1 + rng.below(dollars * 100))
  }

  // MARK: MT5

  static func step(_ server: MT5TradeServer, _ rng: inout SeededGenerator) {
    let symbolCount = server.feed.symbols.count
    server.feed.walk(rng.below(symbolCount), using: &rng)
    let login = server.logins[rng.below(server.logins.count)]
    guard let account = server.accounts[login] else { return }
    let open = server.positionsByLogin[login] ?? []
    let roll = rng.below(1000)
    switch roll {
    case 0..<330 where open.count < 6:
      guard (server.marginLevel(of: login) ?? 1_000) > 300 else { return deposit(server, login, &rng) }
      let symbolIndex = rng.below(symbolCount)
      let symbol = server.feed.symbols[symbolIndex]
      let buy = rng.below(2) == 0
      let volume = UInt64(1 + rng.below(symbol.contractSize < 100 ? 5 : 40)) * Volume.step
      _ = try? server.marketOrder(login: login, symbol: symbol.name, buy: buy, volumeExt: volume,
                                  fills: fills(server, symbolIndex, buy: buy, volume: volume, &rng))
    case 0..<600:
      guard let ticket = open.isEmpty ? nil : open[rng.below(open.count)], let position = server.positions[ticket] else {
        return deposit(server, login, &rng)
      }
      var volume = position.volumeExt
      if rng.below(3) == 0, volume >= 2 * Volume.step { volume = volume / 2 / Volume.step * Volume.step }
      _ = try? server.closePosition(ticket, volumeExt: volume,
                                    fills: fills(server, position.symbolIndex, buy: !position.isBuy, volume: volume, &rng))
    case 600..<640:
      let symbolIndex = rng.below(symbolCount)
      let symbol = server.feed.symbols[symbolIndex]
      let type = [OrderType.buyLimit, .sellLimit, .buyStop, .sellStop][rng.below(4)]
      let offset = symbol.stepPoints * Int64(5 + rng.below(20))
      let price = type == .buyLimit || type == .sellStop ? server.feed.bid(symbolIndex) - offset
        : server.feed.ask(symbolIndex) + offset
      _ = try? server.placePendingOrder(login: login, symbol: symbol.name, type: type,
                                        volumeExt: UInt64(1 + rng.below(10)) * Volume.step, pricePoints: price)
    case 640..<690:
      guard let pending = server.pendingByLogin[login], !pending.isEmpty else { return deposit(server, login, &rng) }
      let ticket = pending[rng.below(pending.count)]
      if rng.below(3) == 0 { _ = try? server.cancelPendingOrder(ticket) } else { _ = try? server.activatePendingOrder(ticket) }
    case 690..<720 where account.marginMode == .hedging:
      closeBy(server, open, &rng)
    case 720..<800:
      deposit(server, login, &rng)
    case 800..<850:
      let available = server.withdrawable(account)
      guard available > 0 else { return deposit(server, login, &rng) }
      _ = try? server.balanceOperation(login: login, action: .balance, amount: -(1 + Int64(rng.below(Int(min(available, 1_000_000))))),
                                       comment: "withdrawal")
    case 850..<930:
      let action = dealerActions[rng.below(dealerActions.count)]
      var amount = amount(&rng, upTo: 200)
      let outgoing: Set<DealAction> = [.charge, .commission, .commissionDaily, .commissionMonthly, .tax]
      if outgoing.contains(action) || (action == .credit && account.credit > 0 && rng.below(2) == 0) {
        amount = action == .credit ? -(1 + Int64(rng.below(Int(account.credit)))) : -amount
      }
      _ = try? server.balanceOperation(login: login, action: action, amount: amount, comment: "\(action)")
    case 930..<960:
      _ = try? server.updateAccount(login: login, leverage: [50, 100, 200, 500][rng.below(4)])
    case 960..<962:
      server.rollover(login: login)
    case 972..<977 where !server.deals.isEmpty:
      // A dealer corrects the comment of some earlier deal of this thread's accounts.
      let deal = server.deals[rng.below(server.deals.count)]
      _ = try? server.correctDealComment(deal.deal, comment: "corrected #\(deal.deal)")
    case 962..<972:
      // A news spike: a symbol jumps far, which is what stops accounts out.
      let symbolIndex = open.isEmpty ? rng.below(symbolCount) : (server.positions[open[0]]?.symbolIndex ?? 0)
      let jump = server.feed.symbols[symbolIndex].stepPoints * Int64(200 + rng.below(800))
      server.feed.setBid(symbolIndex, points: server.feed.bid(symbolIndex) + (rng.below(2) == 0 ? jump : -jump))
    default:
      deposit(server, login, &rng)
    }
    server.enforceStopOut(login: login)
  }

  static func deposit(_ server: MT5TradeServer, _ login: UInt64, _ rng: inout SeededGenerator) {
    _ = try? server.balanceOperation(login: login, action: .balance, amount: amount(&rng, upTo: 5_000),
                                     comment: "deposit")
  }

  /// A market fill, or (a third of the time) two or three partial fills a few
  /// points apart: the book had less volume than asked at the best price.
  static func fills(_ server: MT5TradeServer, _ symbol: Int, buy: Bool, volume: UInt64, _ rng: inout SeededGenerator)
    -> [Fill]
  {
    let best = buy ? server.feed.ask(symbol) : server.feed.bid(symbol)
    let steps = volume / Volume.step
    guard steps >= 2, rng.below(3) == 0 else { return [Fill(volumeExt: volume, pricePoints: best)] }
    let parts = min(Int(steps), 2 + rng.below(2))
    var fills: [Fill] = []
    var left = steps
    for part in 0..<parts {
      let take = part == parts - 1 ? left : UInt64(1 + rng.below(Int(left) - (parts - part - 1)))
      left -= take
      let slip = Int64(part) * Int64(1 + rng.below(3))
      fills.append(Fill(volumeExt: take * Volume.step, pricePoints: buy ? best + slip : max(1, best - slip)))
    }
    return fills
  }

  static func closeBy(_ server: MT5TradeServer, _ open: [UInt64], _ rng: inout SeededGenerator) {
    for first in open {
      guard let a = server.positions[first] else { continue }
      if let second = open.first(where: { server.positions[$0].map { $0.symbolIndex == a.symbolIndex && $0.isBuy != a.isBuy } ?? false }) {
        _ = try? server.closeBy(first, by: second)
        return
      }
    }
    // No opposite pair yet: open one against an existing position, to close by later.
    if let ticket = open.first, let a = server.positions[ticket] {
      _ = try? server.marketOrder(login: a.login, symbol: a.symbol, buy: !a.isBuy, volumeExt: Volume.step * UInt64(1 + rng.below(5)))
    }
  }

  // MARK: MT4

  static func step(_ server: MT4TradeServer, _ rng: inout SeededGenerator) {
    let symbolCount = server.feed.symbols.count
    server.feed.walk(rng.below(symbolCount), using: &rng)
    let login = server.logins[rng.below(server.logins.count)]
    guard let account = server.accounts[login] else { return }
    let open = server.openByLogin[login] ?? []
    let roll = rng.below(1000)
    switch roll {
    case 0..<330 where open.count < 6:
      guard (server.marginLevel(of: login) ?? 1_000) > 300 else { return deposit(server, login, &rng) }
      let symbolIndex = rng.below(symbolCount)
      let symbol = server.feed.symbols[symbolIndex]
      _ = try? server.openTrade(login: login, symbol: symbol.name, buy: rng.below(2) == 0,
                                volume: Int32(1 + rng.below(symbol.contractSize < 100 ? 5 : 40)))
    case 0..<600:
      let market = open.filter { server.openTrades[$0]?.isMarket == true }
      guard !market.isEmpty, let trade = server.openTrades[market[rng.below(market.count)]] else {
        return deposit(server, login, &rng)
      }
      let partial = rng.below(3) == 0 && trade.volume >= 2
      _ = try? server.closeTrade(trade.ticket, volume: partial ? trade.volume / 2 : nil)
    case 600..<640:
      let symbolIndex = rng.below(symbolCount)
      let symbol = server.feed.symbols[symbolIndex]
      let cmd = TradeRecord.opBuyLimit + Int32(rng.below(4))
      let offset = symbol.stepPoints * Int64(5 + rng.below(20))
      let below = cmd == TradeRecord.opBuyLimit || cmd == TradeRecord.opSellStop
      let price = below ? server.feed.bid(symbolIndex) - offset : server.feed.ask(symbolIndex) + offset
      _ = try? server.placePendingOrder(login: login, symbol: symbol.name, cmd: cmd, volume: Int32(1 + rng.below(10)),
                                        pricePoints: price)
    case 640..<690:
      let pending = open.filter { server.openTrades[$0]?.isPending == true }
      guard !pending.isEmpty else { return deposit(server, login, &rng) }
      let ticket = pending[rng.below(pending.count)]
      if rng.below(3) == 0 { _ = try? server.deletePendingOrder(ticket) } else { _ = try? server.activatePendingOrder(ticket) }
    case 690..<720:
      guard let ticket = open.first, let trade = server.openTrades[ticket] else { return deposit(server, login, &rng) }
      let distance = server.feed.symbols[trade.symbolIndex].stepPoints * 50
      _ = try? server.modifyTrade(ticket, slPoints: max(1, trade.openPricePoints - distance), tpPoints: trade.openPricePoints + distance)
    case 720..<800:
      deposit(server, login, &rng)
    case 800..<850:
      let available = server.withdrawable(account)
      guard available > 0 else { return deposit(server, login, &rng) }
      _ = try? server.balanceOperation(login: login, credit: false,
                                       amount: -(1 + Int64(rng.below(Int(min(available, 1_000_000))))), comment: "withdrawal")
    case 850..<930:
      let out = account.credit > 0 && rng.below(2) == 0
      _ = try? server.balanceOperation(login: login, credit: true,
                                       amount: out ? -(1 + Int64(rng.below(Int(account.credit)))) : amount(&rng, upTo: 500),
                                       comment: out ? "credit out" : "credit in")
    case 930..<960:
      _ = try? server.updateAccount(login: login, leverage: [50, 100, 200, 500][rng.below(4)])
    case 960..<962:
      server.rollover(login: login)
    case 962..<972:
      let symbolIndex = open.first.flatMap { server.openTrades[$0]?.symbolIndex } ?? rng.below(symbolCount)
      let jump = server.feed.symbols[symbolIndex].stepPoints * Int64(200 + rng.below(800))
      server.feed.setBid(symbolIndex, points: server.feed.bid(symbolIndex) + (rng.below(2) == 0 ? jump : -jump))
    default:
      deposit(server, login, &rng)
    }
    server.enforceStopOut(login: login)
  }

  static func deposit(_ server: MT4TradeServer, _ login: UInt64, _ rng: inout SeededGenerator) {
    _ = try? server.balanceOperation(login: login, credit: false, amount: amount(&rng, upTo: 5_000), comment: "deposit")
  }
}
