/// The MT5 dialect of the simulated trade server: orders are requests, deals are
/// fills, positions are exposure. Accounts live in netting groups (one position per
/// symbol; an opposite deal reduces, closes or reverses it) or hedging groups (each
/// order opens its own position; closes name the position; close-by pairs them).
///
/// Every state change appends the hook calls the platform would make to `events`,
/// in its order: order, deal (after balance and position reflect it), position,
/// user (after every balance or credit change). The host drains `events`.
/// Not thread-safe: one host thread owns a server shard; queries take its lock.
public final class MT5TradeServer {
  public private(set) var accounts: [UInt64: Account] = [:]
  /// Logins in creation order (deterministic iteration; dictionaries are not).
  public private(set) var logins: [UInt64] = []
  public private(set) var positions: [UInt64: Position] = [:]
  /// Open position tickets of each account, in opening order.
  public private(set) var positionsByLogin: [UInt64: [UInt64]] = [:]
  public private(set) var pendingOrders: [UInt64: Order] = [:]
  public private(set) var pendingByLogin: [UInt64: [UInt64]] = [:]
  /// Every deal ever performed (the deal history).
  public private(set) var deals: [Deal] = []
  public var feed: PriceFeed
  /// Hook calls not yet fired, oldest first.
  public var events: [ServerEvent] = []
  /// Whether to record hook calls at all (a run offering no hooks skips the work).
  public var recordsEvents = true

  /// Gateway routing (`sim --gateway`): a client market request of an account this
  /// says yes to is placed and waits (state placed) for the gateway's executions.
  public var routesToGateway: ((Account) -> Bool)?
  /// Orders waiting for the gateway, by ticket.
  public private(set) var routedOrders: [UInt64: Order] = [:]
  /// Positions a routed close waits on: no second close, close-by or stop-out meanwhile.
  public private(set) var routedPositions: Set<UInt64> = []
  /// Orders routed since the host last took them (it sends them to the gateway).
  public var newlyRouted: [Order] = []
  /// The external id the deals being booked carry (a gateway fill's).
  private var bookingExternalID = ""

  private var nettingIndex: [NettingKey: UInt64] = [:]
  private var dealTickets: TicketSequence
  private var orderTickets: TicketSequence
  private let clock: () -> Int64

  private struct NettingKey: Hashable { var login: UInt64; var symbol: Int }

  /// - Parameters:
  ///   - identity: this shard's place among the server's host threads (ticket interleave).
  ///   - symbols: the symbol configuration.
  ///   - clock: broker time in milliseconds.
  public init(identity: ShardIdentity = ShardIdentity(), symbols: [TradingSymbol] = TradingSymbol.standard,
              clock: @escaping () -> Int64) {
    feed = PriceFeed(symbols: symbols)
    dealTickets = identity.tickets(base: 1_000_000)
    orderTickets = identity.tickets(base: 5_000_000)
    self.clock = clock
    events.reserveCapacity(64)
  }

  private func emit(_ event: ServerEvent) { if recordsEvents { events.append(event) } }

  // MARK: Accounts

  /// Creates an account (MT5 `UserAdd`); fires `on_user_add`.
  public func createAccount(_ account: Account) throws(TradeRejection) {
    guard accounts[account.login] == nil else { throw .accountExists(account.login) }
    var account = account
    account.registrationMsc = clock()
    account.lastUpdateMsc = account.registrationMsc
    accounts[account.login] = account
    logins.append(account.login)
    emit(.userAdd(account))
  }

  /// Changes an account's details (name, group, leverage); fires `on_user_update`.
  public func updateAccount(login: UInt64, name: String? = nil, group: String? = nil, leverage: UInt32? = nil)
    throws(TradeRejection)
  {
    guard var account = accounts[login] else { throw .unknownAccount(login) }
    if let name { account.name = name }
    if let group { account.group = group }
    if let leverage { account.leverage = leverage }
    account.lastUpdateMsc = clock()
    accounts[login] = account
    emit(.userUpdate(account))
  }

  /// Deletes an account without open positions or pending orders (MT5 `UserDelete`);
  /// its deals stay in history. Fires `on_user_delete`.
  public func deleteAccount(login: UInt64) throws(TradeRejection) {
    guard let account = accounts[login] else { throw .unknownAccount(login) }
    guard positionsByLogin[login, default: []].isEmpty, pendingByLogin[login, default: []].isEmpty else {
      throw .accountHasOpenTrades(login)
    }
    accounts[login] = nil
    logins.removeAll { $0 == login }
    positionsByLogin[login] = nil
    pendingByLogin[login] = nil
    emit(.userDelete(account))
  }

  /// A dealer corrects a deal's comment (MT5 `DealUpdate`): no money moves.
  /// Fires `on_deal_update`.
  public func correctDealComment(_ ticket: UInt64, comment: String) throws(TradeRejection) {
    guard let index = dealIndex(ticket) else { throw .unknownDeal(ticket) }
    deals[index].comment = PlatformText.fit(comment, bytes: PlatformText.mt5Comment)
    emit(.dealUpdate(deals[index]))
  }

  /// Deals are appended in ticket order per shard, so history is sorted: binary search.
  private func dealIndex(_ ticket: UInt64) -> Int? {
    var low = 0, high = deals.count
    while low < high {
      let mid = (low + high) / 2
      if deals[mid].deal < ticket { low = mid + 1 } else { high = mid }
    }
    return low < deals.count && deals[low].deal == ticket ? low : nil
  }

  /// A balance-type deal (deposit, withdrawal, credit, bonus, correction, charge,
  /// commission, ...): the amount in minor units, positive in, negative out. A
  /// withdrawal never takes more than the withdrawable balance (credit is not the
  /// client's cash); credit out never takes more than the credit.
  /// - Returns: the deal.
  @discardableResult
  public func balanceOperation(login: UInt64, action: DealAction, amount: Int64, comment: String = "",
                               reason: UInt32 = Reason.dealer) throws(TradeRejection) -> Deal {
    guard var account = accounts[login] else { throw .unknownAccount(login) }
    guard action.isBalanceType, amount != 0 else { throw .invalidAmount }
    if action == .balance, amount < 0 {
      let available = withdrawable(account)
      guard -amount <= available else { throw .insufficientBalance(requested: -amount, available: available) }
    }
    if action == .credit, amount < 0, -amount > account.credit {
      throw .insufficientBalance(requested: -amount, available: account.credit)
    }
    let now = clock()
    let deal = Deal(
      deal: dealTickets.take(), login: login, order: 0, positionID: 0, action: action, entry: .entryIn,
      reason: reason, symbolIndex: -1, symbol: "", digits: 0, currencyDigits: account.currencyDigits,
      timeMsc: now, pricePoints: 0, volumeExt: 0, contractSize: 0, profit: amount, commission: 0, storage: 0,
      fee: 0, comment: PlatformText.fit(comment, bytes: PlatformText.mt5Comment))
    account.balance += deal.balanceChange
    account.credit += deal.creditChange
    account.lastUpdateMsc = now
    accounts[login] = account
    deals.append(deal)
    emit(.dealAdd(deal))
    emit(.userUpdate(account))
    return deal
  }

  /// Cash the client may withdraw: the balance, less margin in use that credit and
  /// floating profit do not cover; never the credit itself.
  public func withdrawable(_ account: Account) -> Int64 {
    let (floating, margin) = exposure(of: account.login)
    let freeWithoutCredit = account.balance + floating - Money.minorUnits(margin, digits: account.currencyDigits)
    return max(0, min(account.balance, freeWithoutCredit))
  }

  // MARK: Orders

  /// A market order (client buy or sell; a close when `positionID` names a position
  /// in a hedging account). It fills as the given deals, one per fill, at their own
  /// prices; without fills it fills at once at the ask (buy) or bid (sell).
  /// - Returns: the order ticket (also the ticket of a position it opens).
  @discardableResult
  public func marketOrder(login: UInt64, symbol: String, buy: Bool, volumeExt: UInt64, fills: [Fill]? = nil,
                          positionID: UInt64 = 0, reason: UInt32 = Reason.client, comment: String = "")
    throws(TradeRejection) -> UInt64
  {
    guard let account = accounts[login] else { throw .unknownAccount(login) }
    guard let symbolIndex = feed.symbolIndex(symbol) else { throw .unknownSymbol(symbol) }
    let fills = fills ?? [Fill(volumeExt: volumeExt, pricePoints: buy ? feed.ask(symbolIndex) : feed.bid(symbolIndex))]
    guard volumeExt > 0, fills.allSatisfy({ $0.volumeExt > 0 && $0.pricePoints > 0 }),
      fills.reduce(0, { $0 + $1.volumeExt }) == volumeExt
    else { throw .invalidVolume }
    if positionID != 0 {
      guard let position = positions[positionID], position.login == login, position.symbolIndex == symbolIndex,
        position.isBuy != buy
      else { throw .unknownPosition(positionID) }
      guard volumeExt <= position.volumeExt else { throw .invalidVolume }
      guard !routedPositions.contains(positionID) else { throw .unknownPosition(positionID) }
    }
    let now = clock()
    var order = Order(
      order: orderTickets.take(), login: login, symbolIndex: symbolIndex, symbol: symbol, type: buy ? .buy : .sell,
      state: .placed, reason: reason, digits: feed.symbols[symbolIndex].digits, pricePoints: fills[0].pricePoints,
      slPoints: 0, tpPoints: 0, volumeInitial: volumeExt, volumeCurrent: volumeExt, positionID: positionID,
      timeSetupMsc: now, timeDoneMsc: 0, comment: PlatformText.fit(comment, bytes: PlatformText.mt5Comment))
    emit(.orderAdd(order))
    if reason == Reason.client, let route = routesToGateway, route(account) {
      // A-book: the order waits as placed; the gateway's executions fill or reject it.
      order.pricePoints = buy ? feed.ask(symbolIndex) : feed.bid(symbolIndex)
      routedOrders[order.order] = order
      if positionID != 0 { routedPositions.insert(positionID) }
      newlyRouted.append(order)
      return order.order
    }
    execute(&order, fills: fills)
    return order.order
  }

  /// Closes all or part of a position with a market order (reason SO for stop-out).
  /// - Returns: the closing order's ticket.
  @discardableResult
  public func closePosition(_ positionID: UInt64, volumeExt: UInt64? = nil, fills: [Fill]? = nil,
                            reason: UInt32 = Reason.client, comment: String = "") throws(TradeRejection) -> UInt64 {
    guard let position = positions[positionID] else { throw .unknownPosition(positionID) }
    let volume = volumeExt ?? position.volumeExt
    guard volume > 0, volume <= position.volumeExt else { throw .invalidVolume }
    return try marketOrder(
      login: position.login, symbol: position.symbol, buy: !position.isBuy, volumeExt: volume, fills: fills,
      positionID: positionID, reason: reason, comment: comment)
  }

  /// Places a pending order (limit or stop); fires `on_order_add`.
  @discardableResult
  public func placePendingOrder(login: UInt64, symbol: String, type: OrderType, volumeExt: UInt64,
                                pricePoints: Int64, comment: String = "") throws(TradeRejection) -> UInt64 {
    guard accounts[login] != nil else { throw .unknownAccount(login) }
    guard let symbolIndex = feed.symbolIndex(symbol) else { throw .unknownSymbol(symbol) }
    guard type.isPending, volumeExt > 0, pricePoints > 0 else { throw .invalidVolume }
    let order = Order(
      order: orderTickets.take(), login: login, symbolIndex: symbolIndex, symbol: symbol, type: type,
      state: .placed, reason: Reason.client, digits: feed.symbols[symbolIndex].digits, pricePoints: pricePoints,
      slPoints: 0, tpPoints: 0, volumeInitial: volumeExt, volumeCurrent: volumeExt, positionID: 0,
      timeSetupMsc: clock(), timeDoneMsc: 0, comment: PlatformText.fit(comment, bytes: PlatformText.mt5Comment))
    pendingOrders[order.order] = order
    pendingByLogin[login, default: []].append(order.order)
    emit(.orderAdd(order))
    return order.order
  }

  /// The price reached a pending order: it fills (at its own price unless fills are given).
  public func activatePendingOrder(_ ticket: UInt64, fills: [Fill]? = nil) throws(TradeRejection) {
    guard var order = pendingOrders[ticket] else { throw .unknownOrder(ticket) }
    let fills = fills ?? [Fill(volumeExt: order.volumeCurrent, pricePoints: order.pricePoints)]
    guard fills.allSatisfy({ $0.volumeExt > 0 && $0.pricePoints > 0 }),
      fills.reduce(0, { $0 + $1.volumeExt }) == order.volumeCurrent
    else { throw .invalidVolume }
    removePending(order)
    execute(&order, fills: fills)
  }

  /// Cancels a pending order; it moves to history (`on_order_delete`, state canceled).
  public func cancelPendingOrder(_ ticket: UInt64) throws(TradeRejection) {
    guard var order = pendingOrders[ticket] else { throw .unknownOrder(ticket) }
    removePending(order)
    order.state = .canceled
    order.timeDoneMsc = clock()
    emit(.orderDelete(order))
  }

  private func removePending(_ order: Order) {
    pendingOrders[order.order] = nil
    pendingByLogin[order.login]?.removeAll { $0 == order.order }
  }

  /// Close-by (hedging): closes `positionID` against the opposite `byPositionID` on
  /// the same symbol for the smaller volume. Two `ENTRY_OUT_BY` deals: the first
  /// closes `positionID` at the other position's open price and carries the whole
  /// result; the second closes the other at its own open price (profit 0).
  @discardableResult
  public func closeBy(_ positionID: UInt64, by byPositionID: UInt64) throws(TradeRejection) -> UInt64 {
    guard let first = positions[positionID] else { throw .unknownPosition(positionID) }
    guard let second = positions[byPositionID] else { throw .unknownPosition(byPositionID) }
    guard let account = accounts[first.login], account.marginMode == .hedging else { throw .hedgingOnly }
    guard first.login == second.login, first.symbolIndex == second.symbolIndex, first.isBuy != second.isBuy,
      !routedPositions.contains(positionID), !routedPositions.contains(byPositionID)
    else {
      throw .closeByNeedsOppositePositions
    }
    let volume = min(first.volumeExt, second.volumeExt)
    let symbol = feed.symbols[first.symbolIndex]
    let byPrice = second.priceOpen
    let byPoints = Int64((byPrice * Money.doublePowers[symbol.digits]).rounded())
    var order = Order(
      order: orderTickets.take(), login: first.login, symbolIndex: first.symbolIndex, symbol: first.symbol,
      type: first.isBuy ? .sell : .buy, state: .placed, reason: Reason.client, digits: symbol.digits,
      pricePoints: byPoints, slPoints: 0, tpPoints: 0, volumeInitial: volume, volumeCurrent: volume,
      positionID: positionID, timeSetupMsc: clock(), timeDoneMsc: 0, comment: "close #\(positionID) by #\(byPositionID)")
    emit(.orderAdd(order))
    order.volumeCurrent = 0
    order.state = .filled
    emit(.orderUpdate(order))
    reduce(first, by: volume, closePrice: byPrice, pricePoints: byPoints, order: order, entry: .outBy,
           commission: 0, reason: Reason.client)
    reduce(second, by: volume, closePrice: byPrice, pricePoints: byPoints, order: order, entry: .outBy,
           commission: 0, reason: Reason.client)
    order.timeDoneMsc = clock()
    emit(.orderDelete(order))
    return order.order
  }

  // MARK: Gateway executions

  /// A gateway fill of a routed order: `on_order_update`, then one deal whose
  /// `external_id` is the fill's, at the fill's price; the order moves to history
  /// when nothing remains. A fill larger than what remains fills what remains.
  /// - Returns: the deal's ticket, or nil when no routed order has this ticket.
  @discardableResult
  public func fillRoutedOrder(_ ticket: UInt64, volumeExt: UInt64, pricePoints: Int64, externalID: String) -> UInt64? {
    guard var order = routedOrders[ticket], volumeExt > 0, pricePoints > 0 else { return nil }
    let volume = min(volumeExt, order.volumeCurrent)
    order.volumeCurrent -= volume
    order.state = order.volumeCurrent == 0 ? .filled : .partial
    emit(.orderUpdate(order))
    let before = deals.count
    bookingExternalID = externalID
    perform(order, fill: Fill(volumeExt: volume, pricePoints: pricePoints))
    bookingExternalID = ""
    if order.volumeCurrent == 0 {
      finishRouted(&order)
    } else {
      routedOrders[ticket] = order
    }
    return deals.count > before ? deals[deals.count - 1].deal : nil
  }

  /// The gateway rejected a routed order: it moves to history, rejected (canceled
  /// when part of it was filled).
  /// - Returns: false when no routed order has this ticket.
  @discardableResult
  public func rejectRoutedOrder(_ ticket: UInt64) -> Bool {
    guard var order = routedOrders[ticket] else { return false }
    order.state = order.volumeCurrent == order.volumeInitial ? .rejected : .canceled
    finishRouted(&order)
    return true
  }

  private func finishRouted(_ order: inout Order) {
    routedOrders[order.order] = nil
    if order.positionID != 0 { routedPositions.remove(order.positionID) }
    order.timeDoneMsc = clock()
    emit(.orderDelete(order))
  }

  // MARK: Execution

  /// Fills an order deal by deal: for each fill, `on_order_update`, then the deal
  /// (after balance and position reflect it), the position, the account; finally
  /// the order moves to history.
  private func execute(_ order: inout Order, fills: [Fill]) {
    for fill in fills {
      order.volumeCurrent -= fill.volumeExt
      order.state = order.volumeCurrent == 0 ? .filled : .partial
      emit(.orderUpdate(order))
      perform(order, fill: fill)
    }
    order.timeDoneMsc = clock()
    emit(.orderDelete(order))
  }

  private func perform(_ order: Order, fill: Fill) {
    let symbol = feed.symbols[order.symbolIndex]
    guard let account = accounts[order.login] else { return }
    let buy = order.type.isBuy
    let commission = -Money.minorUnits(symbol.commissionPerLot * Volume.lots(fill.volumeExt),
                                       digits: account.currencyDigits)
    let price = symbol.price(fill.pricePoints)
    let existing: Position?
    if account.marginMode == .hedging {
      existing = positions[order.positionID != 0 ? order.positionID : order.order]
    } else {
      existing = nettingIndex[NettingKey(login: order.login, symbol: order.symbolIndex)].flatMap { positions[$0] }
    }
    guard let position = existing else {
      open(order, fill: fill, price: price, commission: commission, entry: .entryIn)
      return
    }
    if position.isBuy == buy {
      add(to: position, order: order, fill: fill, price: price, commission: commission)
    } else if fill.volumeExt <= position.volumeExt {
      reduce(position, by: fill.volumeExt, closePrice: price, pricePoints: fill.pricePoints, order: order,
             entry: .out, commission: commission, reason: order.reason)
    } else {
      reverse(position, order: order, fill: fill, price: price, commission: commission)
    }
  }

  private func open(_ order: Order, fill: Fill, price: Double, commission: Int64, entry: DealEntry) {
    let now = clock()
    let position = Position(
      position: order.order, login: order.login, symbolIndex: order.symbolIndex, symbol: order.symbol,
      isBuy: order.type.isBuy, digits: order.digits,
      currencyDigits: accounts[order.login]?.currencyDigits ?? 2, volumeExt: fill.volumeExt, priceOpen: price,
      priceCurrentPoints: fill.pricePoints, profit: 0, storage: 0, timeCreateMsc: now, timeUpdateMsc: now,
      comment: order.comment)
    positions[position.position] = position
    positionsByLogin[order.login, default: []].append(position.position)
    if accounts[order.login]?.marginMode != .hedging {
      nettingIndex[NettingKey(login: order.login, symbol: order.symbolIndex)] = position.position
    }
    let deal = makeDeal(order, fill: fill, positionID: position.position, entry: entry, profit: 0,
                        commission: commission, storage: 0, time: now)
    book(deal)
    emit(.positionAdd(valued(position)))
    userUpdate(after: deal)
  }

  private func add(to position: Position, order: Order, fill: Fill, price: Double, commission: Int64) {
    var position = position
    let held = Volume.lots(position.volumeExt), added = Volume.lots(fill.volumeExt)
    position.priceOpen = (position.priceOpen * held + price * added) / (held + added)
    position.volumeExt += fill.volumeExt
    position.timeUpdateMsc = clock()
    positions[position.position] = position
    let deal = makeDeal(order, fill: fill, positionID: position.position, entry: .entryIn, profit: 0,
                        commission: commission, storage: 0, time: position.timeUpdateMsc)
    book(deal)
    emit(.positionUpdate(valued(position)))
    userUpdate(after: deal)
  }

  /// Closes `volume` of a position at `closePrice`: realises profit and the matching
  /// share of accrued swap; deletes the position when nothing remains.
  private func reduce(_ position: Position, by volume: UInt64, closePrice: Double, pricePoints: Int64, order: Order,
                      entry: DealEntry, commission: Int64, reason: UInt32) {
    guard var position = positions[position.position], let account = accounts[position.login] else { return }
    let profit = realised(position, volume: volume, closePrice: closePrice, digits: account.currencyDigits)
    let storage = volume == position.volumeExt
      ? position.storage : Int64((Double(position.storage) * Double(volume) / Double(position.volumeExt)).rounded())
    position.volumeExt -= volume
    position.storage -= storage
    position.timeUpdateMsc = clock()
    var deal = makeDeal(order, fill: Fill(volumeExt: volume, pricePoints: pricePoints), positionID: position.position,
                        entry: entry, profit: profit, commission: commission, storage: storage,
                        time: position.timeUpdateMsc)
    deal.reason = reason
    deal.action = position.isBuy ? .sell : .buy
    if position.volumeExt == 0 {
      positions[position.position] = nil
      positionsByLogin[position.login]?.removeAll { $0 == position.position }
      nettingIndex[NettingKey(login: position.login, symbol: position.symbolIndex)] = nil
      book(deal)
      emit(.positionDelete(valued(position)))
    } else {
      positions[position.position] = position
      book(deal)
      emit(.positionUpdate(valued(position)))
    }
    userUpdate(after: deal)
  }

  /// Netting reversal: one `ENTRY_INOUT` deal closes the whole position and opens
  /// the rest the other way. The position keeps its ticket and turns around.
  private func reverse(_ position: Position, order: Order, fill: Fill, price: Double, commission: Int64) {
    guard let account = accounts[position.login] else { return }
    var position = position
    let profit = realised(position, volume: position.volumeExt, closePrice: price, digits: account.currencyDigits)
    let storage = position.storage
    position.volumeExt = fill.volumeExt - position.volumeExt
    position.isBuy.toggle()
    position.priceOpen = price
    position.storage = 0
    position.timeUpdateMsc = clock()
    positions[position.position] = position
    let deal = makeDeal(order, fill: fill, positionID: position.position, entry: .inOut, profit: profit,
                        commission: commission, storage: storage, time: position.timeUpdateMsc)
    book(deal)
    emit(.positionUpdate(valued(position)))
    userUpdate(after: deal)
  }

  /// Profit of closing `volume` of a position at `closePrice`, rounded to the
  /// account currency as the platform rounds it.
  public func realised(_ position: Position, volume: UInt64, closePrice: Double, digits: Int) -> Int64 {
    let symbol = feed.symbols[position.symbolIndex]
    let move = position.isBuy ? closePrice - position.priceOpen : position.priceOpen - closePrice
    return Money.minorUnits(move * symbol.contractSize * Volume.lots(volume), digits: digits)
  }

  private func makeDeal(_ order: Order, fill: Fill, positionID: UInt64, entry: DealEntry, profit: Int64,
                        commission: Int64, storage: Int64, time: Int64) -> Deal {
    let symbol = feed.symbols[order.symbolIndex]
    return Deal(
      deal: dealTickets.take(), login: order.login, order: order.order, positionID: positionID,
      action: order.type.isBuy ? .buy : .sell, entry: entry, reason: order.reason, symbolIndex: order.symbolIndex,
      symbol: order.symbol, digits: symbol.digits, currencyDigits: accounts[order.login]?.currencyDigits ?? 2,
      timeMsc: time, pricePoints: fill.pricePoints, volumeExt: fill.volumeExt, contractSize: symbol.contractSize,
      profit: profit, commission: commission, storage: storage, fee: 0, comment: order.comment,
      externalID: bookingExternalID)
  }

  /// The deal reaches balance before any hook hears of it.
  private func book(_ deal: Deal) {
    if deal.balanceChange != 0 || deal.creditChange != 0 {
      accounts[deal.login]?.balance += deal.balanceChange
      accounts[deal.login]?.credit += deal.creditChange
      accounts[deal.login]?.lastUpdateMsc = deal.timeMsc
    }
    deals.append(deal)
    emit(.dealAdd(deal))
  }

  private func userUpdate(after deal: Deal) {
    if deal.balanceChange != 0 || deal.creditChange != 0, let account = accounts[deal.login] {
      emit(.userUpdate(account))
    }
  }

  /// A position with its current price and floating profit filled in.
  public func valued(_ position: Position) -> Position {
    var position = position
    guard position.volumeExt > 0 else { return position }
    let current = position.isBuy ? feed.bid(position.symbolIndex) : feed.ask(position.symbolIndex)
    position.priceCurrentPoints = current
    position.profit = realised(position, volume: position.volumeExt,
                               closePrice: feed.symbols[position.symbolIndex].price(current),
                               digits: accounts[position.login]?.currencyDigits ?? 2)
    return position
  }

  // MARK: Risk

  /// Floating profit (minor units, swaps included) and margin in use (currency) of an account.
  public func exposure(of login: UInt64) -> (floating: Int64, margin: Double) {
    guard let tickets = positionsByLogin[login], !tickets.isEmpty, let account = accounts[login] else { return (0, 0) }
    var floating: Int64 = 0
    var margin = 0.0
    for ticket in tickets {
      guard let position = positions[ticket] else { continue }
      let valuedPosition = valued(position)
      floating += valuedPosition.profit + position.storage
      let symbol = feed.symbols[position.symbolIndex]
      margin += Volume.lots(position.volumeExt) * symbol.contractSize * symbol.price(feed.bid(position.symbolIndex))
        / Double(max(1, account.leverage))
    }
    return (floating, margin)
  }

  /// Margin level in percent (equity / margin × 100); `nil` without open positions.
  public func marginLevel(of login: UInt64) -> Double? {
    guard let account = accounts[login] else { return nil }
    let (floating, margin) = exposure(of: login)
    guard margin > 0 else { return nil }
    let equity = Money.double(account.balance + account.credit + floating, digits: account.currencyDigits)
    return equity / margin * 100
  }

  /// Stop-out: while the margin level is below the group's level, the position
  /// with the largest loss is closed at market (reason SO). A balance left negative
  /// once every position is closed is compensated (`SO_COMPENSATION`); credit is
  /// never used for it.
  /// - Returns: the number of positions closed.
  @discardableResult
  public func enforceStopOut(login: UInt64) -> Int {
    guard let account = accounts[login] else { return 0 }
    var closed = 0
    while let level = marginLevel(of: login), level < account.stopOutLevel {
      guard let worst = worstPosition(of: login) else { break }
      let comment = "so: \(Int((level * 100).rounded()) / 100)%"
      guard (try? closePosition(worst, reason: Reason.stopOut, comment: comment)) != nil else { break }
      closed += 1
    }
    if closed > 0, positionsByLogin[login, default: []].isEmpty, let balance = accounts[login]?.balance, balance < 0 {
      _ = try? balanceOperation(login: login, action: .soCompensation, amount: -balance, comment: "so compensation",
                                reason: Reason.stopOut)
    }
    return closed
  }

  private func worstPosition(of login: UInt64) -> UInt64? {
    var worst: (ticket: UInt64, profit: Int64)?
    for ticket in positionsByLogin[login] ?? [] where !routedPositions.contains(ticket) {
      guard let position = positions[ticket] else { continue }
      let profit = valued(position).profit + position.storage
      if worst == nil || profit < worst!.profit { worst = (ticket, profit) }
    }
    return worst?.ticket
  }

  // MARK: Rollover

  /// Rollover: every open position of the account (every account when nil)
  /// accrues one day's swap in its storage; `on_position_update` for each.
  public func rollover(login: UInt64? = nil) {
    for owner in login.map({ [$0] }) ?? logins {
      guard let account = accounts[owner] else { continue }
      for ticket in positionsByLogin[owner] ?? [] {
        guard var position = positions[ticket] else { continue }
        let symbol = feed.symbols[position.symbolIndex]
        let perLot = position.isBuy ? symbol.swapLongPerLot : symbol.swapShortPerLot
        position.storage += Money.minorUnits(perLot * Volume.lots(position.volumeExt), digits: account.currencyDigits)
        position.timeUpdateMsc = clock()
        positions[ticket] = position
        emit(.positionUpdate(valued(position)))
      }
    }
  }
}
