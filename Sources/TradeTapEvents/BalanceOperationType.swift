/// The kind of a money movement, as the ledger's `balance_operations` keeps it.
///
/// Deposits, withdrawals and credit stay distinct types: credit is broker money for
/// margin, never the client's withdrawable cash. The raw value is the stable name
/// stored in the ledger.
public enum BalanceOperationType: String, Sendable, CaseIterable {
  case deposit = "deposit"
  case withdrawal = "withdrawal"
  case creditIn = "credit_in"
  case creditOut = "credit_out"
  case bonus = "bonus"
  case correction = "correction"
  case charge = "charge"
  case commission = "commission"
  case commissionDaily = "commission_daily"
  case commissionMonthly = "commission_monthly"
  case agentDaily = "agent_daily"
  case agentMonthly = "agent_monthly"
  case agent = "agent"
  case interest = "interest"
  case dividend = "dividend"
  case dividendFranked = "dividend_franked"
  case tax = "tax"
  case soCompensation = "so_compensation"
  case soCompensationCredit = "so_compensation_credit"

  /// Whether the operation moves broker credit rather than the client's cash balance.
  public var affectsCredit: Bool {
    self == .creditIn || self == .creditOut || self == .soCompensationCredit
  }

  /// Classifies an MT5 deal. `nil` for trades (buy, sell) and canceled trades.
  /// A balance deal is a deposit when `amount` is zero or positive, a withdrawal below
  /// zero; a credit deal likewise credit in / credit out.
  public init?(dealAction: DealAction, amount: ExactDecimal) {
    switch dealAction {
    case .buy, .sell, .buyCanceled, .sellCanceled: return nil
    case .balance: self = amount.isNegative ? .withdrawal : .deposit
    case .credit: self = amount.isNegative ? .creditOut : .creditIn
    case .charge: self = .charge
    case .correction: self = .correction
    case .bonus: self = .bonus
    case .commission: self = .commission
    case .commissionDaily: self = .commissionDaily
    case .commissionMonthly: self = .commissionMonthly
    case .agentDaily: self = .agentDaily
    case .agentMonthly: self = .agentMonthly
    case .interestRate: self = .interest
    case .dividend: self = .dividend
    case .dividendFranked: self = .dividendFranked
    case .tax: self = .tax
    case .agent: self = .agent
    case .soCompensation: self = .soCompensation
    case .soCompensationCredit: self = .soCompensationCredit
    }
  }

  /// Classifies an MT4 trade record. `nil` unless `command` is `balance` or `credit`.
  public init?(tradeCommand: TradeCommand, amount: ExactDecimal) {
    switch tradeCommand {
    case .balance: self = amount.isNegative ? .withdrawal : .deposit
    case .credit: self = amount.isNegative ? .creditOut : .creditIn
    default: return nil
    }
  }
}
