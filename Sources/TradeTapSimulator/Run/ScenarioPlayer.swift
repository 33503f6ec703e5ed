/// Applies scenario steps to one server, resolving `ref` names to tickets.
struct ScenarioPlayer {
  var refs: [String: UInt64] = [:]

  mutating func apply(_ step: ScenarioStep, to server: DialectServer) throws {
    func fail(_ reason: String) -> ScenarioError { ScenarioError(line: step.line, reason: reason) }
    func ticket(_ target: String) throws -> UInt64 {
      if let named = refs[target] { return named }
      guard let number = UInt64(target) else { throw fail("unknown ref \"\(target)\"") }
      return number
    }
    func points(_ text: String, _ feed: PriceFeed, _ symbol: String) throws -> Int64 {
      guard let index = feed.symbolIndex(symbol) else { throw fail("unknown symbol \(symbol)") }
      guard let value = Money.parse(text, digits: feed.symbols[index].digits) else {
        throw fail("price \(text) has more decimals than \(symbol)'s \(feed.symbols[index].digits)")
      }
      return value
    }
    func lots(_ text: String) throws -> UInt64 {
      guard let value = Volume.parseLots(text) else { throw fail("bad volume \(text)") }
      return value
    }
    func money(_ text: String) throws -> Int64 {
      guard let value = Money.parse(text, digits: 2) else { throw fail("bad amount \(text) (at most 2 decimals)") }
      return value
    }
    func mt4Volume(_ text: String) throws -> Int32 {
      let ext = try lots(text)
      guard ext % Volume.step == 0 else { throw fail("MT4 volumes are whole hundredths of a lot") }
      return Int32(ext / Volume.step)
    }
    do {
      switch (step.operation, server) {
      case (.createAccount(let login, let group, let margin, let leverage, let level), .mt5(let s)):
        try s.createAccount(Account(login: login, group: group, name: "Client \(login)", marginMode: margin,
                                    leverage: leverage, stopOutLevel: level, timeMsc: 0))
      case (.createAccount(let login, let group, _, let leverage, let level), .mt4(let s)):
        try s.createAccount(Account(login: login, group: group, name: "Client \(login)", marginMode: .hedging,
                                    leverage: leverage, stopOutLevel: level, timeMsc: 0))
      case (.updateAccount(let login, let name, let group, let leverage), .mt5(let s)):
        try s.updateAccount(login: login, name: name, group: group, leverage: leverage)
      case (.updateAccount(let login, let name, let group, let leverage), .mt4(let s)):
        try s.updateAccount(login: login, name: name, group: group, leverage: leverage)
      case (.deleteAccount(let login), .mt5(let s)): try s.deleteAccount(login: login)
      case (.deleteAccount(let login), .mt4(let s)): try s.deleteAccount(login: login)
      case (.correctDeal(let target, let comment), .mt5(let s)):
        try s.correctDealComment(try ticket(target), comment: comment)
      case (.balance(let login, let action, let amount, let comment), .mt5(let s)):
        let deal = try s.balanceOperation(login: login, action: action, amount: try money(amount), comment: comment)
        if let ref = step.ref { refs[ref] = deal.deal }
      case (.balance(let login, let action, let amount, let comment), .mt4(let s)):
        guard action == .balance || action == .credit else { throw fail("MT4 knows only balance and credit operations") }
        let ticket = try s.balanceOperation(login: login, credit: action == .credit, amount: try money(amount),
                                            comment: comment)
        if let ref = step.ref { refs[ref] = UInt64(ticket) }
      case (.market(let login, let symbol, let buy, let volume, let fills), .mt5(let s)):
        let parsed = try fills?.map { Fill(volumeExt: try lots($0.volume), pricePoints: try points($0.price, s.feed, symbol)) }
        let order = try s.marketOrder(login: login, symbol: symbol, buy: buy, volumeExt: try lots(volume), fills: parsed)
        if let ref = step.ref { refs[ref] = order }
      case (.market(let login, let symbol, let buy, let volume, let fills), .mt4(let s)):
        let price = try fills?.first.map { try points($0.price, s.feed, symbol) }
        let ticket = try s.openTrade(login: login, symbol: symbol, buy: buy, volume: try mt4Volume(volume), pricePoints: price)
        if let ref = step.ref { refs[ref] = UInt64(ticket) }
      case (.close(let target, let volume, let fills, let price), .mt5(let s)):
        let id = try ticket(target)
        guard let position = s.positions[id] else { throw fail("no open position \(target)") }
        var parsed = try fills?.map { Fill(volumeExt: try lots($0.volume), pricePoints: try points($0.price, s.feed, position.symbol)) }
        let amount = try volume.map(lots) ?? position.volumeExt
        if parsed == nil, let price { parsed = [Fill(volumeExt: amount, pricePoints: try points(price, s.feed, position.symbol))] }
        let order = try s.closePosition(id, volumeExt: amount, fills: parsed)
        if let ref = step.ref { refs[ref] = order }
      case (.close(let target, let volume, _, let price), .mt4(let s)):
        let id = Int32(truncatingIfNeeded: try ticket(target))
        guard let trade = s.openTrades[id] else { throw fail("no open trade \(target)") }
        let rest = try s.closeTrade(id, volume: try volume.map(mt4Volume),
                                    pricePoints: try price.map { try points($0, s.feed, trade.symbol) })
        if let restRef = step.restRef, let rest { refs[restRef] = UInt64(rest) }
      case (.closeBy(let target, let by), .mt5(let s)):
        let order = try s.closeBy(try ticket(target), by: try ticket(by))
        if let ref = step.ref { refs[ref] = order }
      case (.pending(let login, let symbol, let type, let volume, let price), .mt5(let s)):
        let order = try s.placePendingOrder(login: login, symbol: symbol, type: type, volumeExt: try lots(volume),
                                            pricePoints: try points(price, s.feed, symbol))
        if let ref = step.ref { refs[ref] = order }
      case (.pending(let login, let symbol, let type, let volume, let price), .mt4(let s)):
        let ticket = try s.placePendingOrder(login: login, symbol: symbol, cmd: Int32(type.rawValue),
                                             volume: try mt4Volume(volume), pricePoints: try points(price, s.feed, symbol))
        if let ref = step.ref { refs[ref] = UInt64(ticket) }
      case (.activate(let target), .mt5(let s)): try s.activatePendingOrder(try ticket(target))
      case (.activate(let target), .mt4(let s)): try s.activatePendingOrder(Int32(truncatingIfNeeded: try ticket(target)))
      case (.cancel(let target), .mt5(let s)): try s.cancelPendingOrder(try ticket(target))
      case (.cancel(let target), .mt4(let s)): try s.deletePendingOrder(Int32(truncatingIfNeeded: try ticket(target)))
      case (.modify(let target, let sl, let tp), .mt4(let s)):
        let id = Int32(truncatingIfNeeded: try ticket(target))
        guard let trade = s.openTrades[id] else { throw fail("no open trade \(target)") }
        try s.modifyTrade(id, slPoints: try points(sl, s.feed, trade.symbol), tpPoints: try points(tp, s.feed, trade.symbol))
      case (.quote(let symbol, let bid), .mt5(let s)):
        let price = try points(bid, s.feed, symbol)  // throws for an unknown symbol
        s.feed.setBid(s.feed.symbolIndex(symbol) ?? 0, points: price)
      case (.quote(let symbol, let bid), .mt4(let s)):
        let price = try points(bid, s.feed, symbol)
        s.feed.setBid(s.feed.symbolIndex(symbol) ?? 0, points: price)
      case (.rollover(let login), .mt5(let s)): s.rollover(login: login)
      case (.rollover(let login), .mt4(let s)): s.rollover(login: login)
      case (.stopOut(let login), .mt5(let s)): s.enforceStopOut(login: login)
      case (.stopOut(let login), .mt4(let s)): s.enforceStopOut(login: login)
      case (.closeBy, .mt4), (.modify, .mt5), (.correctDeal, .mt4):
        throw fail("this operation does not exist in this dialect")
      }
      if step.expectsRejection { throw fail("expected the server to reject it, but it was accepted") }
    } catch let rejection as TradeRejection {
      if !step.expectsRejection { throw fail("the server rejected it: \(rejection)") }
    }
  }
}
