// The platform's enumerations, with the exact values of the Trade Server Plugin API
// (shared/spec/plugin-abi.md). A value outside these sets quarantines the record;
// only `reason` is open-ended and kept as a raw UInt32.

/// What a deal did (MT5 `EnDealAction`, `TS_DEAL_*`).
public enum DealAction: UInt32, Sendable, CaseIterable {
  case buy = 0
  case sell = 1
  case balance = 2
  case credit = 3
  case charge = 4
  case correction = 5
  case bonus = 6
  case commission = 7
  case commissionDaily = 8
  case commissionMonthly = 9
  case agentDaily = 10
  case agentMonthly = 11
  case interestRate = 12
  case buyCanceled = 13
  case sellCanceled = 14
  case dividend = 15
  case dividendFranked = 16
  case tax = 17
  case agent = 18
  case soCompensation = 19
  case soCompensationCredit = 20

  /// A balance-type deal moves money (its amount is in `profit`); every action from
  /// `balance` up except the two `*Canceled`.
  public var isBalanceOperation: Bool {
    rawValue >= DealAction.balance.rawValue && self != .buyCanceled && self != .sellCanceled
  }
}

/// How a deal relates to its position (`TS_ENTRY_*`).
public enum DealEntry: UInt32, Sendable, CaseIterable {
  /// Opens or adds to a position.
  case `in` = 0
  /// Closes or reduces a position.
  case out = 1
  /// Netting reversal: closes and opens the other way.
  case inOut = 2
  /// Close-by: closed against an opposite position.
  case outBy = 3
}

/// Order type (`TS_ORDER_BUY ... TS_ORDER_SELL_STOP`).
public enum OrderType: UInt32, Sendable, CaseIterable {
  case buy = 0, sell = 1, buyLimit = 2, sellLimit = 3, buyStop = 4, sellStop = 5
}

/// Order state (`TS_ORDER_STARTED ... TS_ORDER_EXPIRED`).
public enum OrderState: UInt32, Sendable, CaseIterable {
  case started = 0, placed = 1, canceled = 2, partial = 3, filled = 4, rejected = 5, expired = 6
}

/// Position direction (`TS_POSITION_*`).
public enum PositionAction: UInt32, Sendable, CaseIterable {
  case buy = 0, sell = 1
}

/// Account margin mode (MT5 `EnMarginMode`, `TS_MARGIN_*`). MT4 is always hedging.
public enum MarginMode: UInt32, Sendable, CaseIterable {
  case retailNetting = 0, exchange = 1, retailHedging = 2
}

/// MT4 trade command (`ts_trade_record.cmd`, `TS_OP_*`).
public enum TradeCommand: Int32, Sendable, CaseIterable {
  case buy = 0, sell = 1, buyLimit = 2, sellLimit = 3, buyStop = 4, sellStop = 5
  /// Balance operation: amount in `profit`, reference in `comment`.
  case balance = 6
  /// Credit operation: amount in `profit`, reference in `comment`.
  case credit = 7
}

/// `on_trade_add` mode (`TS_OPEN_*`).
public enum TradeAddMode: Int32, Sendable, CaseIterable {
  case new = 0, close = 1, restore = 2, api = 3, rollover = 4
}

/// `on_trade_update` mode (`TS_UPDATE_*`).
public enum TradeUpdateMode: Int32, Sendable, CaseIterable {
  case normal = 0, activate = 1, close = 2, delete = 3
}

/// The mode an MT4 trade hook was called with; its meaning depends on the hook.
public enum TradeMode: Sendable, Hashable {
  case add(TradeAddMode)
  case update(TradeUpdateMode)

  /// The platform's raw value.
  public var rawValue: Int32 {
    switch self {
    case .add(let m): m.rawValue
    case .update(let m): m.rawValue
    }
  }
}
