/// An MT4 trade record (`ts_trade_record`): an open or closed trade, a pending
/// order, or a balance / credit operation (`command` `.balance` / `.credit`, amount
/// in `profit`, reference in `comment`).
///
/// Times are MT4 broker-time seconds converted to milliseconds. Prices are rounded
/// to `digits`; money (no currency digits in the record) to 8 decimals, trimmed.
public struct Trade: Sendable, Hashable {
  /// Ticket (`order`).
  public var ticket: Int32
  public var login: Int32
  /// Empty for balance and credit operations.
  public var symbol: String
  public var digits: Int32
  public var command: TradeCommand
  /// Lots × 100.
  public var volume: Int32
  public var openTime: BrokerTime
  public var state: Int32
  public var openPrice: ExactDecimal
  public var sl: ExactDecimal
  public var tp: ExactDecimal
  /// `nil` while open (the platform's 0).
  public var closeTime: BrokerTime?
  public var closePrice: ExactDecimal
  public var commission: ExactDecimal
  /// Swap.
  public var storage: ExactDecimal
  /// Profit, or the amount of a balance / credit operation.
  public var profit: ExactDecimal
  public var taxes: ExactDecimal
  public var magic: Int32
  /// `"from #123"` on the remainder of a partial close.
  public var comment: String
  /// Last change.
  public var timestamp: BrokerTime
  /// The account as the hook saw it; `nil` when the host passed NULL, or for snapshots.
  public var user: TradeUserInfo?
  /// The hook's mode; `nil` for snapshot records.
  public var mode: TradeMode?

  public init(
    ticket: Int32, login: Int32, symbol: String, digits: Int32, command: TradeCommand,
    volume: Int32, openTime: BrokerTime, state: Int32, openPrice: ExactDecimal,
    sl: ExactDecimal, tp: ExactDecimal, closeTime: BrokerTime?, closePrice: ExactDecimal,
    commission: ExactDecimal, storage: ExactDecimal, profit: ExactDecimal, taxes: ExactDecimal,
    magic: Int32, comment: String, timestamp: BrokerTime, user: TradeUserInfo?, mode: TradeMode?
  ) {
    self.ticket = ticket
    self.login = login
    self.symbol = symbol
    self.digits = digits
    self.command = command
    self.volume = volume
    self.openTime = openTime
    self.state = state
    self.openPrice = openPrice
    self.sl = sl
    self.tp = tp
    self.closeTime = closeTime
    self.closePrice = closePrice
    self.commission = commission
    self.storage = storage
    self.profit = profit
    self.taxes = taxes
    self.magic = magic
    self.comment = comment
    self.timestamp = timestamp
    self.user = user
    self.mode = mode
  }

  /// The money-movement type of a balance / credit record; `nil` for trades.
  public var balanceOperationType: BalanceOperationType? {
    BalanceOperationType(tradeCommand: command, amount: profit)
  }
}

/// The MT4 account a trade record belongs to, as the trade hooks see it (`ts_user_info`).
/// Money is rounded to 8 decimals and trimmed.
public struct TradeUserInfo: Sendable, Hashable {
  public var login: Int32
  public var group: String
  public var name: String
  public var leverage: Int32
  public var balance: ExactDecimal
  public var credit: ExactDecimal

  public init(
    login: Int32, group: String, name: String, leverage: Int32, balance: ExactDecimal,
    credit: ExactDecimal
  ) {
    self.login = login
    self.group = group
    self.name = name
    self.leverage = leverage
    self.balance = balance
    self.credit = credit
  }
}
