/// An MT5 open position: the exposure deals built (`ts_position`).
///
/// Prices are rounded to `digits`. The record carries no currency digits, so
/// `profit` and `storage` are rounded to 8 decimals and trimmed (a platform value
/// already at cents comes out as exactly those cents).
public struct Position: Sendable, Hashable {
  /// Position ticket (id of the opening order).
  public var position: UInt64
  public var login: UInt64
  public var symbol: String
  public var action: PositionAction
  public var digits: UInt32
  /// 1/100,000,000 lot; 0 in `positionDelete` after a full close.
  public var volumeExt: UInt64
  /// Volume-weighted average.
  public var priceOpen: ExactDecimal
  public var priceCurrent: ExactDecimal
  /// Floating profit.
  public var profit: ExactDecimal
  /// Accumulated swap.
  public var storage: ExactDecimal
  public var timeCreate: BrokerTime
  public var timeUpdate: BrokerTime
  public var comment: String

  public init(
    position: UInt64, login: UInt64, symbol: String, action: PositionAction, digits: UInt32,
    volumeExt: UInt64, priceOpen: ExactDecimal, priceCurrent: ExactDecimal,
    profit: ExactDecimal, storage: ExactDecimal, timeCreate: BrokerTime, timeUpdate: BrokerTime,
    comment: String
  ) {
    self.position = position
    self.login = login
    self.symbol = symbol
    self.action = action
    self.digits = digits
    self.volumeExt = volumeExt
    self.priceOpen = priceOpen
    self.priceCurrent = priceCurrent
    self.profit = profit
    self.storage = storage
    self.timeCreate = timeCreate
    self.timeUpdate = timeUpdate
    self.comment = comment
  }
}
