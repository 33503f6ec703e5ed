import TradeTapEvents

/// One column value of a planned row, typed so each backend binds it its own way
/// (SQLite through its C API, PostgreSQL as parameters or `unnest` arrays).
public enum LedgerCell: Sendable, Equatable {
  case integer(Int64)
  case text(String)
  /// Exact decimal: NUMERIC on PostgreSQL, exact text on SQLite.
  case money(ExactDecimal)
  /// A broker time's UTC text, or NULL.
  case utc(BrokerTime?)
  case flag(Bool)
}

/// The columns of one kind of row the projection writes, in the order every
/// backend binds them. The first two columns are the row's platform key (server
/// and ticket, deal, order, position or login); the last one is `updated_seq`.
public struct LedgerRowShape: Sendable {
  /// Index into ``all``: executors keep one prepared statement per shape.
  public let id: Int
  public let table: LedgerTable
  public let columns: [String]
  /// A platform fact written once (the gateway's rows): a conflict on any unique
  /// key keeps the stored row (`ON CONFLICT DO NOTHING`); no `updated_seq` guard.
  public let insertOnly: Bool
  public var conflict: [String] { Array(columns.prefix(2)) }

  init(id: Int, table: LedgerTable, insertOnly: Bool = false, columns: [String]) {
    self.id = id
    self.table = table
    self.insertOnly = insertOnly
    self.columns = columns
  }

  public static let account = LedgerRowShape(id: 0, table: .accounts, columns: [
    "server_id", "login", "group", "name", "email", "country", "currency", "currency_digits",
    "balance", "credit", "margin_mode", "leverage", "comment", "registration_msc",
    "registration_utc", "last_update_msc", "last_update_utc", "deleted", "updated_seq",
  ])
  /// MT4 `ts_user_info` inside a trade: only these fields; the rest of the row stays as it was.
  public static let accountFromTradeUser = LedgerRowShape(id: 1, table: .accounts, columns: [
    "server_id", "login", "group", "name", "leverage", "balance", "credit", "updated_seq",
  ])
  public static let deal = LedgerRowShape(id: 2, table: .deals, columns: [
    "server_id", "deal", "external_id", "login", "order", "position_id", "action", "entry",
    "reason", "symbol", "digits", "currency_digits", "time_msc", "time_utc", "price",
    "volume_ext", "contract_size", "profit", "commission", "storage", "fee", "comment",
    "deleted", "updated_seq",
  ])
  public static let balanceOperation = LedgerRowShape(id: 3, table: .balanceOperations, columns: [
    "server_id", "ticket", "source", "login", "type", "platform_code", "amount", "time_msc",
    "time_utc", "comment", "deleted", "updated_seq",
  ])
  public static let order = LedgerRowShape(id: 4, table: .orders, columns: [
    "server_id", "order", "external_id", "login", "symbol", "type", "state", "reason", "digits",
    "price_order", "price_sl", "price_tp", "volume_initial_ext", "volume_current_ext",
    "position_id", "time_setup_msc", "time_setup_utc", "time_done_msc", "time_done_utc",
    "comment", "in_history", "updated_seq",
  ])
  public static let position = LedgerRowShape(id: 5, table: .positions, columns: [
    "server_id", "position", "login", "symbol", "action", "digits", "volume_ext", "price_open",
    "price_current", "profit", "storage", "time_create_msc", "time_create_utc",
    "time_update_msc", "time_update_utc", "comment", "updated_seq",
  ])
  public static let trade = LedgerRowShape(id: 6, table: .trades, columns: [
    "server_id", "ticket", "login", "symbol", "digits", "cmd", "volume", "open_time",
    "open_time_utc", "state", "open_price", "sl", "tp", "close_time", "close_time_utc",
    "close_price", "commission", "storage", "profit", "taxes", "magic", "comment", "timestamp",
    "is_open", "deleted", "last_mode", "updated_seq",
  ])

  public static let all: [LedgerRowShape] = [
    account, accountFromTradeUser, deal, balanceOperation, order, position, trade,
    gatewayRequest, gatewayAnswer, execution,
  ]
}

/// One row to upsert, guarded by `updated_seq`: it changes the stored row only when
/// newer (or as new, when a reconciliation corrects at the durable sequence).
public struct LedgerRowImage: Sendable, Equatable {
  public let shapeId: Int
  /// One value per column of the shape, in its order.
  public private(set) var values: [LedgerCell]

  public var shape: LedgerRowShape { LedgerRowShape.all[shapeId] }

  public init(_ shape: LedgerRowShape, _ values: [LedgerCell]) {
    precondition(values.count == shape.columns.count, "a row image binds every column of its shape")
    shapeId = shape.id
    self.values = values
  }

  /// The platform key within the server (the second column).
  public var key: Int64 {
    if case .integer(let value) = values[1] { return value }
    return 0
  }

  /// The event sequence the row is as of (the last column).
  public var updatedSeq: Int64 {
    if case .integer(let value) = values[values.count - 1] { return value }
    return 0
  }

  /// This row's values written over `base` column by column (an MT4 trade's partial
  /// account row over a full one held for the same login).
  public func merged(over base: LedgerRowImage) -> LedgerRowImage {
    var result = base
    let baseColumns = base.shape.columns
    for (column, value) in zip(shape.columns, values) {
      if let at = baseColumns.firstIndex(of: column) { result.values[at] = value }
    }
    return result
  }
}
