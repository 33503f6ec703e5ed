/// An MT5 deal: one execution (fill) or one balance-type operation (`ts_deal`).
///
/// Money (`profit`, `commission`, `storage`, `fee`) is rounded to `currencyDigits`,
/// `price` to `digits`. Identifiers and units are the platform's own.
public struct Deal: Sendable, Hashable {
  /// Deal ticket, unique per server.
  public var deal: UInt64
  public var externalId: String
  public var login: UInt64
  /// Order that produced the fill; 0 for balance operations.
  public var order: UInt64
  /// Position the deal opened, changed or closed.
  public var positionId: UInt64
  public var action: DealAction
  public var entry: DealEntry
  /// `TS_REASON_*` or any other MT5 value, passed through unchanged.
  public var reason: UInt32
  /// Empty for balance-type deals.
  public var symbol: String
  /// Price decimals of the symbol.
  public var digits: UInt32
  /// Money decimals of the account currency.
  public var currencyDigits: UInt32
  public var time: BrokerTime
  public var price: ExactDecimal
  /// 1/100,000,000 lot.
  public var volumeExt: UInt64
  /// Units per lot (up to 8 decimals, trailing zeros trimmed).
  public var contractSize: ExactDecimal
  /// Trade profit, or the amount of a balance-type deal (positive in, negative out).
  public var profit: ExactDecimal
  public var commission: ExactDecimal
  /// Swap.
  public var storage: ExactDecimal
  public var fee: ExactDecimal
  public var comment: String

  public init(
    deal: UInt64, externalId: String, login: UInt64, order: UInt64, positionId: UInt64,
    action: DealAction, entry: DealEntry, reason: UInt32, symbol: String, digits: UInt32,
    currencyDigits: UInt32, time: BrokerTime, price: ExactDecimal, volumeExt: UInt64,
    contractSize: ExactDecimal, profit: ExactDecimal, commission: ExactDecimal,
    storage: ExactDecimal, fee: ExactDecimal, comment: String
  ) {
    self.deal = deal
    self.externalId = externalId
    self.login = login
    self.order = order
    self.positionId = positionId
    self.action = action
    self.entry = entry
    self.reason = reason
    self.symbol = symbol
    self.digits = digits
    self.currencyDigits = currencyDigits
    self.time = time
    self.price = price
    self.volumeExt = volumeExt
    self.contractSize = contractSize
    self.profit = profit
    self.commission = commission
    self.storage = storage
    self.fee = fee
    self.comment = comment
  }

  /// The money-movement type of a balance-type deal; `nil` for trades.
  public var balanceOperationType: BalanceOperationType? {
    BalanceOperationType(dealAction: action, amount: profit)
  }
}
