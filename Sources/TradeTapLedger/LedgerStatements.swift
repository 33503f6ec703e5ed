import GRDB

/// The SQL the writer runs, built once from column lists so that every upsert has
/// the same guard: a row changes only when the incoming event is newer
/// (`excluded.updated_seq > updated_seq`). Table and column names are constants,
/// values are always bound.
enum LedgerStatements {
  static func upsert(_ table: String, columns: [String], conflict: [String], guarded: Bool = true) -> String {
    let quoted = columns.map { "\"\($0)\"" }
    let updates = columns.filter { !conflict.contains($0) }.map { "\"\($0)\" = excluded.\"\($0)\"" }
    var sql = "INSERT INTO \(table) (\(quoted.joined(separator: ", "))) VALUES ("
    sql += Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
    sql += " ON CONFLICT (\(conflict.map { "\"\($0)\"" }.joined(separator: ", "))) DO UPDATE SET "
    sql += updates.joined(separator: ", ")
    if guarded { sql += " WHERE excluded.updated_seq > \(table).updated_seq" }
    return sql
  }

  static let insertEvent = """
    INSERT OR IGNORE INTO events (server_id, seq, kind, time_msc, time_utc, received_utc, summary, body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    """

  static let ensureServer = "INSERT OR IGNORE INTO servers (id, utc_offset_minutes) VALUES (?, ?)"
  static let serverLastSeq = "SELECT last_seq FROM servers WHERE id = ?"
  static let advanceServer = """
    UPDATE servers SET last_seq = max(last_seq, ?), utc_offset_minutes = coalesce(?, utc_offset_minutes) WHERE id = ?
    """

  static let upsertAccount = upsert(
    "accounts",
    columns: [
      "server_id", "login", "group", "name", "email", "country", "currency", "currency_digits",
      "balance", "credit", "margin_mode", "leverage", "comment", "registration_msc",
      "registration_utc", "last_update_msc", "last_update_utc", "deleted", "updated_seq",
    ],
    conflict: ["server_id", "login"])

  /// MT4 `ts_user_info`: only these fields; the rest of the row stays as it was.
  static let upsertAccountFromTradeUser = upsert(
    "accounts",
    columns: ["server_id", "login", "group", "name", "leverage", "balance", "credit", "updated_seq"],
    conflict: ["server_id", "login"])

  static let upsertDeal = upsert(
    "deals",
    columns: [
      "server_id", "deal", "external_id", "login", "order", "position_id", "action", "entry",
      "reason", "symbol", "digits", "currency_digits", "time_msc", "time_utc", "price",
      "volume_ext", "contract_size", "profit", "commission", "storage", "fee", "comment",
      "deleted", "updated_seq",
    ],
    conflict: ["server_id", "deal"])

  static let upsertBalanceOperation = upsert(
    "balance_operations",
    columns: [
      "server_id", "ticket", "source", "login", "type", "platform_code", "amount", "time_msc",
      "time_utc", "comment", "deleted", "updated_seq",
    ],
    conflict: ["server_id", "ticket"])

  static let upsertOrder = upsert(
    "orders",
    columns: [
      "server_id", "order", "external_id", "login", "symbol", "type", "state", "reason", "digits",
      "price_order", "price_sl", "price_tp", "volume_initial_ext", "volume_current_ext",
      "position_id", "time_setup_msc", "time_setup_utc", "time_done_msc", "time_done_utc",
      "comment", "in_history", "updated_seq",
    ],
    conflict: ["server_id", "order"])

  static let upsertPosition = upsert(
    "positions",
    columns: [
      "server_id", "position", "login", "symbol", "action", "digits", "volume_ext", "price_open",
      "price_current", "profit", "storage", "time_create_msc", "time_create_utc",
      "time_update_msc", "time_update_utc", "comment", "updated_seq",
    ],
    conflict: ["server_id", "position"])

  static let positionClosedSeq = "SELECT closed_seq FROM position_closures WHERE server_id = ? AND position = ?"
  static let deletePosition = "DELETE FROM positions WHERE server_id = ? AND position = ? AND updated_seq < ?"
  static let recordPositionClosure = """
    INSERT INTO position_closures (server_id, position, closed_seq) VALUES (?, ?, ?)
    ON CONFLICT (server_id, position) DO UPDATE SET closed_seq = max(closed_seq, excluded.closed_seq)
    """

  static let upsertTrade = upsert(
    "trades",
    columns: [
      "server_id", "ticket", "login", "symbol", "digits", "cmd", "volume", "open_time",
      "open_time_utc", "state", "open_price", "sl", "tp", "close_time", "close_time_utc",
      "close_price", "commission", "storage", "profit", "taxes", "magic", "comment", "timestamp",
      "is_open", "deleted", "last_mode", "updated_seq",
    ],
    conflict: ["server_id", "ticket"])

  static let insertQuarantine = """
    INSERT OR IGNORE INTO quarantine (server_id, seq, kind, reason, body, received_utc)
    VALUES (?, ?, ?, ?, ?, ?)
    """

  static let insertGap = """
    INSERT OR IGNORE INTO gaps (server_id, first_seq, last_seq, reason, detected_utc, refused_events)
    VALUES (?, ?, ?, ?, ?, ?)
    """
}
