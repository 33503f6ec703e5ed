/// The MT4 dialect of the simulated trade server: always hedging; every trade is a
/// trade record with its own ticket. Balance changes when a trade closes (profit +
/// commission + swap), and balance and credit operations are trade records of their
/// own (`OP_BALANCE`, `OP_CREDIT`) that go straight to history.
///
/// Hook order: the record's hook (`on_trade_add` / `on_trade_update`, with the
/// account as it is after the change), then `on_user_update` when balance or credit
/// changed. Not thread-safe: one host thread owns a shard; queries take its lock.
public final class MT4TradeServer {
  public private(set) var accounts: [UInt64: Account] = [:]
  public private(set) var logins: [UInt64] = []
  /// Open trades and pending orders by ticket.
  public private(set) var openTrades: [Int32: TradeRecord] = [:]
  public private(set) var openByLogin: [UInt64: [Int32]] = [:]
  /// Closed trades, deleted pending orders, balance and credit records.
  public private(set) var history: [TradeRecord] = []
  public var feed: PriceFeed
  public var events: [ServerEvent] = []
  public var recordsEvents = true

  private var tickets: TicketSequence
  private let clock: () -> Int64

  public init(identity: ShardIdentity = ShardIdentity(), symbols: [TradingSymbol] = TradingSymbol.standard,
              clock: @escaping () -> Int64) {
    feed = PriceFeed(symbols: symbols)
    tickets = identity.tickets(base: 100_000)
    self.clock = clock
    events.reserveCapacity(16)
  }

  private var seconds: Int32 { Int32(truncatingIfNeeded: clock() / 1000) }
  private func emit(_ event: ServerEvent) { if recordsEvents { events.append(event) } }
  private func take() -> Int32 { Int32(truncatingIfNeeded: tickets.take()) }

  // MARK: Accounts

  public func createAccount(_ account: Account) throws(TradeRejection) {
    guard accounts[account.login] == nil else { throw .accountExists(account.login) }
    guard account.login <= UInt64(Int32.max) else { throw .unknownAccount(account.login) }
    var account = account
    account.marginMode = .hedging
    account.registrationMsc = clock()
    account.lastUpdateMsc = account.registrationMsc
    accounts[account.login] = account
    logins.append(account.login)
    emit(.userAdd(account))
  }

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

  /// Deletes an account without open trades or pending orders; fires `on_user_delete`.
  public func deleteAccount(login: UInt64) throws(TradeRejection) {
    guard let account = accounts[login] else { throw .unknownAccount(login) }
    guard openByLogin[login, default: []].isEmpty else { throw .accountHasOpenTrades(login) }
    accounts[login] = nil
    logins.removeAll { $0 == login }
    openByLogin[login] = nil
    emit(.userDelete(account))
  }

  /// `OP_BALANCE` (deposit > 0, withdrawal < 0) or `OP_CREDIT` (credit in / out),
  /// amount in minor units. A withdrawal never exceeds the balance, nor the free
  /// margin without credit: credit is never the client's cash.
  /// - Returns: the new record's ticket (MT4 `ClientsChangeBalance`).
  @discardableResult
  public func balanceOperation(login: UInt64, credit: Bool, amount: Int64, comment: String) throws(TradeRejection)
    -> Int32
  {
    guard var account = accounts[login] else { throw .unknownAccount(login) }
    guard amount != 0 else { throw .invalidAmount }
    if amount < 0 {
      let available = credit ? account.credit : withdrawable(account)
      guard -amount <= available else { throw .insufficientBalance(requested: -amount, available: available) }
    }
    let now = seconds
    let record = TradeRecord(
      ticket: take(), login: Int32(login), symbolIndex: -1, symbol: "", digits: 0,
      cmd: credit ? TradeRecord.opCredit : TradeRecord.opBalance, volume: 0, openTime: now, openPricePoints: 0,
      slPoints: 0, tpPoints: 0, closeTime: now, closePricePoints: 0, commission: 0, storage: 0, profit: amount,
      taxes: 0, magic: 0, comment: PlatformText.fit(comment, bytes: PlatformText.mt4Comment), timestamp: now)
    if credit { account.credit += amount } else { account.balance += amount }
    account.lastUpdateMsc = clock()
    accounts[login] = account
    history.append(record)
    emit(.tradeAdd(record, account, mode: TradeMode.openNew))
    emit(.userUpdate(account))
    return record.ticket
  }

  /// Cash the client may withdraw: balance less margin not covered by floating
  /// profit; never the credit.
  public func withdrawable(_ account: Account) -> Int64 {
    let (floating, margin) = exposure(of: account.login)
    let freeWithoutCredit = account.balance + floating - Money.minorUnits(margin, digits: account.currencyDigits)
    return max(0, min(account.balance, freeWithoutCredit))
  }

  // MARK: Trades

  /// Opens a market trade at the ask (buy) or bid (sell) unless a price is given.
  /// Commission is charged into the record and reaches the balance at close.
  /// - Parameter volume: lots × 100.
  @discardableResult
  public func openTrade(login: UInt64, symbol: String, buy: Bool, volume: Int32, pricePoints: Int64? = nil,
                        comment: String = "") throws(TradeRejection) -> Int32 {
    guard let account = accounts[login] else { throw .unknownAccount(login) }
    guard let index = feed.symbolIndex(symbol) else { throw .unknownSymbol(symbol) }
    guard volume > 0 else { throw .invalidVolume }
    let spec = feed.symbols[index]
    let now = seconds
    let price = pricePoints ?? (buy ? feed.ask(index) : feed.bid(index))
    let record = TradeRecord(
      ticket: take(), login: Int32(login), symbolIndex: index, symbol: symbol, digits: spec.digits,
      cmd: buy ? TradeRecord.opBuy : TradeRecord.opSell, volume: volume, openTime: now, openPricePoints: price,
      slPoints: 0, tpPoints: 0, closeTime: 0, closePricePoints: 0,
      commission: -Money.minorUnits(spec.commissionPerLot * 2 * Double(volume) / 100, digits: account.currencyDigits),
      storage: 0, profit: 0, taxes: 0, magic: 0, comment: PlatformText.fit(comment, bytes: PlatformText.mt4Comment), timestamp: now)
    store(record)
    emit(.tradeAdd(record, account, mode: TradeMode.openNew))
    return record.ticket
  }

  /// Places a pending order (`OP_BUY_LIMIT` ... `OP_SELL_STOP`).
  @discardableResult
  public func placePendingOrder(login: UInt64, symbol: String, cmd: Int32, volume: Int32, pricePoints: Int64)
    throws(TradeRejection) -> Int32
  {
    guard let account = accounts[login] else { throw .unknownAccount(login) }
    guard let index = feed.symbolIndex(symbol) else { throw .unknownSymbol(symbol) }
    guard volume > 0, pricePoints > 0, cmd >= TradeRecord.opBuyLimit, cmd <= TradeRecord.opSellStop else {
      throw .invalidVolume
    }
    let now = seconds
    let record = TradeRecord(
      ticket: take(), login: Int32(login), symbolIndex: index, symbol: symbol, digits: feed.symbols[index].digits,
      cmd: cmd, volume: volume, openTime: now, openPricePoints: pricePoints, slPoints: 0, tpPoints: 0, closeTime: 0,
      closePricePoints: 0, commission: 0, storage: 0, profit: 0, taxes: 0, magic: 0, comment: "",
      timestamp: now)
    store(record)
    emit(.tradeAdd(record, account, mode: TradeMode.openNew))
    return record.ticket
  }

  /// The price reached a pending order: it becomes a market trade at its price.
  public func activatePendingOrder(_ ticket: Int32) throws(TradeRejection) {
    guard var record = openTrades[ticket], record.isPending, let account = accounts[UInt64(record.login)] else {
      throw .unknownOrder(UInt64(ticket))
    }
    let spec = feed.symbols[record.symbolIndex]
    record.cmd = record.isBuy ? TradeRecord.opBuy : TradeRecord.opSell
    record.openTime = seconds
    record.timestamp = record.openTime
    record.commission = -Money.minorUnits(spec.commissionPerLot * 2 * Double(record.volume) / 100,
                                          digits: account.currencyDigits)
    openTrades[ticket] = record
    emit(.tradeUpdate(record, account, mode: TradeMode.updateActivate))
  }

  /// Deletes a pending order; it goes to history.
  public func deletePendingOrder(_ ticket: Int32) throws(TradeRejection) {
    guard var record = openTrades[ticket], record.isPending, let account = accounts[UInt64(record.login)] else {
      throw .unknownOrder(UInt64(ticket))
    }
    record.closeTime = seconds
    record.timestamp = record.closeTime
    unstore(record)
    history.append(record)
    emit(.tradeUpdate(record, account, mode: TradeMode.updateDelete))
  }

  /// Changes stop loss and take profit (points; 0 = none).
  public func modifyTrade(_ ticket: Int32, slPoints: Int64, tpPoints: Int64) throws(TradeRejection) {
    guard var record = openTrades[ticket], let account = accounts[UInt64(record.login)] else {
      throw .unknownOrder(UInt64(ticket))
    }
    record.slPoints = slPoints
    record.tpPoints = tpPoints
    record.timestamp = seconds
    openTrades[ticket] = record
    emit(.tradeUpdate(record, account, mode: TradeMode.updateNormal))
  }

  /// Closes a trade, or part of it. A partial close keeps the ticket for the closed
  /// part (to history, comment "to #M") and reopens the remainder as a new ticket M
  /// with comment "from #N", as MT4 does. Commission and swap split pro rata.
  /// - Parameter volume: lots × 100 to close; nil closes it all.
  /// - Returns: the remainder's ticket after a partial close, else nil.
  @discardableResult
  public func closeTrade(_ ticket: Int32, volume: Int32? = nil, pricePoints: Int64? = nil, comment: String? = nil)
    throws(TradeRejection) -> Int32?
  {
    guard var record = openTrades[ticket], record.isMarket, var account = accounts[UInt64(record.login)] else {
      throw .unknownOrder(UInt64(ticket))
    }
    let closing = volume ?? record.volume
    guard closing > 0, closing <= record.volume else { throw .invalidVolume }
    let spec = feed.symbols[record.symbolIndex]
    let close = pricePoints ?? (record.isBuy ? feed.bid(record.symbolIndex) : feed.ask(record.symbolIndex))
    let now = seconds
    var remainder: TradeRecord?
    if closing < record.volume {
      var rest = record
      rest.ticket = take()
      rest.volume = record.volume - closing
      rest.commission = share(record.commission, part: rest.volume, of: record.volume)
      rest.storage = share(record.storage, part: rest.volume, of: record.volume)
      rest.comment = "from #\(record.ticket)"
      rest.timestamp = now
      record.commission -= rest.commission
      record.storage -= rest.storage
      record.volume = closing
      record.comment = "to #\(rest.ticket)"
      remainder = rest
    }
    if let comment { record.comment = PlatformText.fit(comment, bytes: PlatformText.mt4Comment) }
    record.closeTime = now
    record.closePricePoints = close
    record.timestamp = now
    record.profit = profit(record, closePrice: spec.price(close), digits: account.currencyDigits)
    unstore(record)
    history.append(record)
    account.balance += record.profit + record.commission + record.storage
    account.lastUpdateMsc = clock()
    accounts[account.login] = account
    if let remainder { store(remainder) }
    emit(.tradeUpdate(record, account, mode: TradeMode.updateClose))
    if let remainder { emit(.tradeAdd(remainder, account, mode: TradeMode.openClose)) }
    emit(.userUpdate(account))
    return remainder?.ticket
  }

  private func share(_ amount: Int64, part: Int32, of whole: Int32) -> Int64 {
    Int64((Double(amount) * Double(part) / Double(whole)).rounded())
  }

  /// Profit of a trade closed at `closePrice`, rounded to the account currency.
  public func profit(_ record: TradeRecord, closePrice: Double, digits: Int) -> Int64 {
    let spec = feed.symbols[record.symbolIndex]
    let open = spec.price(record.openPricePoints)
    let move = record.isBuy ? closePrice - open : open - closePrice
    return Money.minorUnits(move * spec.contractSize * Double(record.volume) / 100, digits: digits)
  }

  private func store(_ record: TradeRecord) {
    openTrades[record.ticket] = record
    openByLogin[UInt64(record.login), default: []].append(record.ticket)
  }

  private func unstore(_ record: TradeRecord) {
    openTrades[record.ticket] = nil
    openByLogin[UInt64(record.login)]?.removeAll { $0 == record.ticket }
  }

  // MARK: Risk and rollover

  /// Floating profit of open market trades (with commission and swap) and margin in use.
  public func exposure(of login: UInt64) -> (floating: Int64, margin: Double) {
    guard let tickets = openByLogin[login], !tickets.isEmpty, let account = accounts[login] else { return (0, 0) }
    var floating: Int64 = 0
    var margin = 0.0
    for ticket in tickets {
      guard let record = openTrades[ticket], record.isMarket else { continue }
      let spec = feed.symbols[record.symbolIndex]
      let current = record.isBuy ? feed.bid(record.symbolIndex) : feed.ask(record.symbolIndex)
      floating += profit(record, closePrice: spec.price(current), digits: account.currencyDigits)
        + record.commission + record.storage
      margin += Double(record.volume) / 100 * spec.contractSize * spec.price(feed.bid(record.symbolIndex))
        / Double(max(1, account.leverage))
    }
    return (floating, margin)
  }

  public func marginLevel(of login: UInt64) -> Double? {
    guard let account = accounts[login] else { return nil }
    let (floating, margin) = exposure(of: login)
    guard margin > 0 else { return nil }
    return Money.double(account.balance + account.credit + floating, digits: account.currencyDigits) / margin * 100
  }

  /// Stop-out: closes the most losing trade while the margin level is below the
  /// group's level (comment "so: L%"). A balance left negative with no open trades
  /// is brought back to zero by an `OP_BALANCE` correction; credit is never used.
  @discardableResult
  public func enforceStopOut(login: UInt64) -> Int {
    guard let account = accounts[login] else { return 0 }
    var closed = 0
    while let level = marginLevel(of: login), level < account.stopOutLevel {
      var worst: (ticket: Int32, profit: Int64)?
      for ticket in openByLogin[login] ?? [] {
        guard let record = openTrades[ticket], record.isMarket else { continue }
        let current = record.isBuy ? feed.bid(record.symbolIndex) : feed.ask(record.symbolIndex)
        let result = profit(record, closePrice: feed.symbols[record.symbolIndex].price(current),
                            digits: account.currencyDigits) + record.storage
        if worst == nil || result < worst!.profit { worst = (ticket, result) }
      }
      guard let worst else { break }
      let comment = "so: \(Int((level * 100).rounded()) / 100)%"
      do { try closeTrade(worst.ticket, comment: comment) } catch { break }
      closed += 1
    }
    let marketLeft = (openByLogin[login] ?? []).contains { openTrades[$0]?.isMarket == true }
    if closed > 0, !marketLeft, let balance = accounts[login]?.balance, balance < 0 {
      _ = try? balanceOperation(login: login, credit: false, amount: -balance, comment: "so compensation")
    }
    return closed
  }

  /// Rollover: each open market trade accrues a day's swap (`UPDATE_NORMAL`).
  public func rollover(login: UInt64? = nil) {
    for owner in login.map({ [$0] }) ?? logins {
      guard let account = accounts[owner] else { continue }
      for ticket in openByLogin[owner] ?? [] {
        guard var record = openTrades[ticket], record.isMarket else { continue }
        let spec = feed.symbols[record.symbolIndex]
        let perLot = record.isBuy ? spec.swapLongPerLot : spec.swapShortPerLot
        record.storage += Money.minorUnits(perLot * Double(record.volume) / 100, digits: account.currencyDigits)
        record.timestamp = seconds
        openTrades[ticket] = record
        emit(.tradeUpdate(record, account, mode: TradeMode.updateNormal))
      }
    }
  }
}
