/// A trading account (`ts_user`; MT5 IMTUser, MT4 UserRecord).
///
/// `balance` (the client's cash) and `credit` (broker credit, margin only, never
/// withdrawable) stay distinct; both are rounded to `currencyDigits`.
public struct User: Sendable, Hashable {
  public var login: UInt64
  public var group: String
  public var name: String
  public var email: String
  public var country: String
  public var currency: String
  public var currencyDigits: UInt32
  public var leverage: UInt32
  public var marginMode: MarginMode
  public var balance: ExactDecimal
  public var credit: ExactDecimal
  public var registration: BrokerTime
  public var lastUpdate: BrokerTime
  public var comment: String

  public init(
    login: UInt64, group: String, name: String, email: String, country: String,
    currency: String, currencyDigits: UInt32, leverage: UInt32, marginMode: MarginMode,
    balance: ExactDecimal, credit: ExactDecimal, registration: BrokerTime,
    lastUpdate: BrokerTime, comment: String
  ) {
    self.login = login
    self.group = group
    self.name = name
    self.email = email
    self.country = country
    self.currency = currency
    self.currencyDigits = currencyDigits
    self.leverage = leverage
    self.marginMode = marginMode
    self.balance = balance
    self.credit = credit
    self.registration = registration
    self.lastUpdate = lastUpdate
    self.comment = comment
  }
}
