/// An MT5 order: a request, which deals fill (`ts_order`). Prices are rounded to `digits`.
public struct Order: Sendable, Hashable {
  public var order: UInt64
  public var externalId: String
  public var login: UInt64
  public var symbol: String
  public var type: OrderType
  public var state: OrderState
  /// `TS_REASON_*` or any other MT5 value, passed through unchanged.
  public var reason: UInt32
  public var digits: UInt32
  public var priceOrder: ExactDecimal
  public var priceSL: ExactDecimal
  public var priceTP: ExactDecimal
  /// 1/100,000,000 lot.
  public var volumeInitialExt: UInt64
  /// Unfilled remainder, 1/100,000,000 lot.
  public var volumeCurrentExt: UInt64
  public var positionId: UInt64
  public var timeSetup: BrokerTime
  /// `nil` while the order is active (the platform's 0).
  public var timeDone: BrokerTime?
  public var comment: String

  public init(
    order: UInt64, externalId: String, login: UInt64, symbol: String, type: OrderType,
    state: OrderState, reason: UInt32, digits: UInt32, priceOrder: ExactDecimal,
    priceSL: ExactDecimal, priceTP: ExactDecimal, volumeInitialExt: UInt64,
    volumeCurrentExt: UInt64, positionId: UInt64, timeSetup: BrokerTime, timeDone: BrokerTime?,
    comment: String
  ) {
    self.order = order
    self.externalId = externalId
    self.login = login
    self.symbol = symbol
    self.type = type
    self.state = state
    self.reason = reason
    self.digits = digits
    self.priceOrder = priceOrder
    self.priceSL = priceSL
    self.priceTP = priceTP
    self.volumeInitialExt = volumeInitialExt
    self.volumeCurrentExt = volumeCurrentExt
    self.positionId = positionId
    self.timeSetup = timeSetup
    self.timeDone = timeDone
    self.comment = comment
  }
}
