import Foundation
import GRDB

// One record type per ledger table, for reading the ledger from Swift (verify,
// tests, the CRM API). Column names are the schema's (snake_case); money and prices
// are exact decimal text. Writes go through `LedgerWriter`, never through these.

/// A row of `servers`: one trade server feeding the collector.
public struct ServerRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "servers"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var id: Int64
  public var name: String?
  public var platform: Int?
  public var utcOffsetMinutes: Int?
  public var lastSeq: Int64
  public var firstConnectedUtc: String?
  public var lastConnectedUtc: String?
  public var lastDisconnectedUtc: String?
}

/// A row of `accounts`: the platform's latest user record (balance and credit are absolute).
public struct AccountRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "accounts"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var serverId: Int64
  public var login: Int64
  public var group: String
  public var name: String
  public var email: String
  public var country: String
  public var currency: String
  public var currencyDigits: Int?
  public var balance: String
  public var credit: String
  public var marginMode: Int?
  public var leverage: Int?
  public var comment: String
  public var registrationMsc: Int64?
  public var registrationUtc: String?
  public var lastUpdateMsc: Int64?
  public var lastUpdateUtc: String?
  public var deleted: Bool
  public var updatedSeq: Int64
}

/// A row of `deals`: one MT5 deal (partial fills are separate deals).
public struct DealRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "deals"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var serverId: Int64
  public var deal: Int64
  public var externalId: String
  public var login: Int64
  public var order: Int64
  public var positionId: Int64
  public var action: Int
  public var entry: Int
  public var reason: Int
  public var symbol: String
  public var digits: Int
  public var currencyDigits: Int
  public var timeMsc: Int64
  public var timeUtc: String
  public var price: String
  public var volumeExt: Int64
  public var contractSize: String
  public var profit: String
  public var commission: String
  public var storage: String
  public var fee: String
  public var comment: String
  public var deleted: Bool
  public var updatedSeq: Int64
}

/// A row of `orders`: an MT5 order, open or in history.
public struct OrderRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "orders"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var serverId: Int64
  public var order: Int64
  public var externalId: String
  public var login: Int64
  public var symbol: String
  public var type: Int
  public var state: Int
  public var reason: Int
  public var digits: Int
  public var priceOrder: String
  public var priceSl: String
  public var priceTp: String
  public var volumeInitialExt: Int64
  public var volumeCurrentExt: Int64
  public var positionId: Int64
  public var timeSetupMsc: Int64
  public var timeSetupUtc: String
  public var timeDoneMsc: Int64
  public var timeDoneUtc: String?
  public var comment: String
  public var inHistory: Bool
  public var updatedSeq: Int64
}

/// A row of `positions`: an MT5 position open now (deleted when it closes).
public struct PositionRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "positions"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var serverId: Int64
  public var position: Int64
  public var login: Int64
  public var symbol: String
  public var action: Int
  public var digits: Int
  public var volumeExt: Int64
  public var priceOpen: String
  public var priceCurrent: String
  public var profit: String
  public var storage: String
  public var timeCreateMsc: Int64
  public var timeCreateUtc: String
  public var timeUpdateMsc: Int64
  public var timeUpdateUtc: String
  public var comment: String
  public var updatedSeq: Int64
}

/// A row of `trades`: an MT4 trade record at its latest state, open or closed.
public struct TradeRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "trades"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var serverId: Int64
  public var ticket: Int64
  public var login: Int64
  public var symbol: String
  public var digits: Int
  public var cmd: Int
  public var volume: Int64
  public var openTime: Int64
  public var openTimeUtc: String
  public var state: Int
  public var openPrice: String
  public var sl: String
  public var tp: String
  public var closeTime: Int64
  public var closeTimeUtc: String?
  public var closePrice: String
  public var commission: String
  public var storage: String
  public var profit: String
  public var taxes: String
  public var magic: Int64
  public var comment: String
  public var timestamp: Int64
  public var isOpen: Bool
  public var deleted: Bool
  public var lastMode: Int
  public var updatedSeq: Int64
}

/// A row of `balance_operations`: one typed money movement (deposit, credit, bonus...).
public struct BalanceOperationRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "balance_operations"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var serverId: Int64
  public var ticket: Int64
  /// `mt5_deal` or `mt4_trade`.
  public var source: String
  public var login: Int64
  /// The ledger's type name: `deposit`, `withdrawal`, `credit_in`, `credit_out`, `bonus`...
  public var type: String
  /// The platform's own code: the MT5 deal action, or the MT4 command.
  public var platformCode: Int
  /// Signed amount: positive in, negative out.
  public var amount: String
  public var timeMsc: Int64
  public var timeUtc: String
  public var comment: String
  public var deleted: Bool
  public var updatedSeq: Int64
}

/// A row of `events`: the received stream, for audit.
public struct EventRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "events"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var serverId: Int64
  public var seq: Int64
  public var kind: String
  public var timeMsc: Int64?
  public var timeUtc: String?
  public var receivedUtc: String
  /// One line describing the event (`deal 1001 login 7 buy profit 12.50`).
  public var summary: String
  /// The event as the wire encoded it, when the collector kept it.
  public var body: Data?
}

/// A row of `quarantine`: an event the ledger could not apply as-is, kept for review.
public struct QuarantineRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "quarantine"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var id: Int64
  public var serverId: Int64
  public var seq: Int64
  public var kind: String
  public var reason: String
  public var body: Data
  public var receivedUtc: String
  public var resolved: Bool
}

/// A row of `gaps`: sequence numbers that will never arrive (healed by reconciliation).
public struct GapRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
  public static let databaseTableName = "gaps"
  public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
  public var id: Int64
  public var serverId: Int64
  public var firstSeq: Int64
  public var lastSeq: Int64
  public var reason: String
  public var detectedUtc: String
  public var healedUtc: String?
  /// Overflow gaps: events the journal refused while full (never sequenced); else nil.
  public var refusedEvents: Int64?
}
