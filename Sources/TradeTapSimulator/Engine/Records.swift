// The simulator's own records: what the platform keeps, in exact units (money in
// minor units of the account currency, prices in points of the symbol). The host
// turns them into the ABI's C records when it fires a hook.

/// MT5 account margin mode (`EnMarginMode`), set per group.
public enum MarginMode: UInt32, Sendable, Codable {
  case netting = 0
  case exchange = 1
  case hedging = 2

  public var name: String { self == .netting ? "netting" : self == .hedging ? "hedging" : "exchange" }
}

/// MT5 deal action (`EnDealAction`), values as the ABI fixes them.
public enum DealAction: UInt32, Sendable, CaseIterable {
  case buy = 0, sell, balance, credit, charge, correction, bonus, commission, commissionDaily,
    commissionMonthly, agentDaily, agentMonthly, interestRate, buyCanceled, sellCanceled, dividend,
    dividendFranked, tax, agent, soCompensation, soCompensationCredit

  /// True for every action that moves money without a trade (amount in `profit`).
  public var isBalanceType: Bool { self != .buy && self != .sell && self != .buyCanceled && self != .sellCanceled }
  /// Credit and credit compensation move the broker's credit, never the client's balance.
  public var movesCredit: Bool { self == .credit || self == .soCompensationCredit }
}

/// MT5 deal entry.
public enum DealEntry: UInt32, Sendable { case entryIn = 0, out = 1, inOut = 2, outBy = 3 }

/// MT5 order type.
public enum OrderType: UInt32, Sendable {
  case buy = 0, sell, buyLimit, sellLimit, buyStop, sellStop
  public var isBuy: Bool { self == .buy || self == .buyLimit || self == .buyStop }
  public var isPending: Bool { self != .buy && self != .sell }
}

/// MT5 order state.
public enum OrderState: UInt32, Sendable { case started = 0, placed, canceled, partial, filled, rejected, expired }

/// Reasons (MT5 numbers).
public enum Reason {
  public static let client: UInt32 = 0
  public static let dealer: UInt32 = 2
  public static let stopOut: UInt32 = 5
  public static let rollover: UInt32 = 6
}

/// A trading account (MT5 `IMTUser`, MT4 `UserRecord`).
public struct Account: Sendable, Equatable {
  public var login: UInt64
  public var group: String
  public var name: String
  public var email: String
  public var country: String
  public var currency: String
  public var currencyDigits: Int
  public var leverage: UInt32
  public var marginMode: MarginMode
  /// The client's cash, in minor units.
  public var balance: Int64
  /// Broker credit (margin only, never withdrawable), in minor units.
  public var credit: Int64
  public var registrationMsc: Int64
  public var lastUpdateMsc: Int64
  public var comment: String
  /// Stop-out level of the account's group, in percent of margin level.
  public var stopOutLevel: Double

  public init(login: UInt64, group: String, name: String, marginMode: MarginMode, leverage: UInt32,
              currency: String = "USD", currencyDigits: Int = 2, stopOutLevel: Double = 50, timeMsc: Int64) {
    self.login = login; self.group = group; self.name = name
    email = "client\(login)@example.com"; country = "Cyprus"
    self.currency = currency; self.currencyDigits = currencyDigits; self.leverage = leverage
    self.marginMode = marginMode; balance = 0; credit = 0
    registrationMsc = timeMsc; lastUpdateMsc = timeMsc; comment = ""; self.stopOutLevel = stopOutLevel
  }
}

/// An MT5 deal: one fill, or one balance-type operation.
public struct Deal: Sendable, Equatable {
  public var deal: UInt64
  public var login: UInt64
  public var order: UInt64
  public var positionID: UInt64
  public var action: DealAction
  public var entry: DealEntry
  public var reason: UInt32
  /// Index into the server's symbols; −1 for balance-type deals.
  public var symbolIndex: Int
  public var symbol: String
  public var digits: Int
  public var currencyDigits: Int
  public var timeMsc: Int64
  public var pricePoints: Int64
  public var volumeExt: UInt64
  public var contractSize: Double
  /// Money in minor units of the account currency.
  public var profit: Int64
  public var commission: Int64
  public var storage: Int64
  public var fee: Int64
  public var comment: String
  /// The external system's deal id (a gateway fill's `deal_external_id`); empty otherwise.
  public var externalID: String = ""

  /// What the deal did to the balance: profit + commission + storage + fee, except
  /// for credit-type actions, which move credit instead.
  public var balanceChange: Int64 { action.movesCredit ? 0 : profit + commission + storage + fee }
  public var creditChange: Int64 { action.movesCredit ? profit : 0 }
}

/// An MT5 order: the request that deals fill.
public struct Order: Sendable, Equatable {
  public var order: UInt64
  public var login: UInt64
  public var symbolIndex: Int
  public var symbol: String
  public var type: OrderType
  public var state: OrderState
  public var reason: UInt32
  public var digits: Int
  public var pricePoints: Int64
  public var slPoints: Int64
  public var tpPoints: Int64
  public var volumeInitial: UInt64
  public var volumeCurrent: UInt64
  public var positionID: UInt64
  public var timeSetupMsc: Int64
  public var timeDoneMsc: Int64
  public var comment: String
}

/// An MT5 open position: the exposure deals built.
public struct Position: Sendable, Equatable {
  public var position: UInt64
  public var login: UInt64
  public var symbolIndex: Int
  public var symbol: String
  public var isBuy: Bool
  public var digits: Int
  /// Money decimals of the owner's account currency.
  public var currencyDigits: Int
  public var volumeExt: UInt64
  /// Volume-weighted average entry price, as the platform's double.
  public var priceOpen: Double
  public var priceCurrentPoints: Int64
  /// Floating profit at `priceCurrentPoints`, minor units.
  public var profit: Int64
  /// Accumulated swap not yet realised, minor units.
  public var storage: Int64
  public var timeCreateMsc: Int64
  public var timeUpdateMsc: Int64
  public var comment: String
}

/// An MT4 trade record: an open or closed trade, a pending order, or a balance /
/// credit operation (`cmd` 6 / 7, amount in `profit`).
public struct TradeRecord: Sendable, Equatable {
  public static let opBuy: Int32 = 0, opSell: Int32 = 1, opBuyLimit: Int32 = 2, opSellLimit: Int32 = 3
  public static let opBuyStop: Int32 = 4, opSellStop: Int32 = 5, opBalance: Int32 = 6, opCredit: Int32 = 7

  public var ticket: Int32
  public var login: Int32
  public var symbolIndex: Int
  public var symbol: String
  public var digits: Int
  public var cmd: Int32
  /// Lots × 100.
  public var volume: Int32
  public var openTime: Int32
  public var openPricePoints: Int64
  public var slPoints: Int64
  public var tpPoints: Int64
  public var closeTime: Int32
  public var closePricePoints: Int64
  /// Money in minor units.
  public var commission: Int64
  public var storage: Int64
  public var profit: Int64
  public var taxes: Int64
  public var magic: Int32
  public var comment: String
  public var timestamp: Int32

  public var isMarket: Bool { cmd == Self.opBuy || cmd == Self.opSell }
  public var isPending: Bool { cmd >= Self.opBuyLimit && cmd <= Self.opSellStop }
  public var isBalanceOperation: Bool { cmd == Self.opBalance || cmd == Self.opCredit }
  public var isBuy: Bool { cmd == Self.opBuy || cmd == Self.opBuyLimit || cmd == Self.opBuyStop }
}

/// MT4 hook modes.
public enum TradeMode {
  public static let openNew: Int32 = 0, openClose: Int32 = 1, openRestore: Int32 = 2, openAPI: Int32 = 3
  public static let openRollover: Int32 = 4
  public static let updateNormal: Int32 = 0, updateActivate: Int32 = 1, updateClose: Int32 = 2
  public static let updateDelete: Int32 = 3
}

/// One hook call the server makes, in the order it makes them.
public enum ServerEvent: Sendable, Equatable {
  case orderAdd(Order), orderUpdate(Order), orderDelete(Order)
  case dealAdd(Deal), dealUpdate(Deal)
  case positionAdd(Position), positionUpdate(Position), positionDelete(Position)
  case tradeAdd(TradeRecord, Account, mode: Int32)
  case tradeUpdate(TradeRecord, Account, mode: Int32)
  case userAdd(Account), userUpdate(Account), userDelete(Account)
}

/// Why the server refused a request; nothing changed and no hook fired.
public enum TradeRejection: Error, Equatable, Sendable {
  case unknownAccount(UInt64)
  case accountExists(UInt64)
  case unknownSymbol(String)
  case unknownOrder(UInt64)
  case unknownPosition(UInt64)
  case invalidVolume
  case invalidAmount
  /// A withdrawal larger than the balance: credit is never the client's cash.
  case insufficientBalance(requested: Int64, available: Int64)
  case notEnoughMargin
  case closeByNeedsOppositePositions
  case hedgingOnly
  /// An account with open positions, trades or orders cannot be deleted.
  case accountHasOpenTrades(UInt64)
  case unknownDeal(UInt64)
  case wrongPlatform
}
