import GRDB

/// One column value as the ledger stores it: money and prices stay exact decimal text.
public enum LedgerValue: Sendable, Equatable {
  case integer(Int64)
  case text(String)
  case null
}

/// One row read for the CRM API: its columns in a stable order, named as in
/// `docs/ledger.md`.
public struct LedgerRecord: Sendable {
  public var fields: [(name: String, value: LedgerValue)]

  /// The value of `name`, if the record has that column.
  public subscript(name: String) -> LedgerValue? { fields.first { $0.name == name }?.value }

  /// A record from columns read by another backend.
  public init(fields: [(name: String, value: LedgerValue)]) { self.fields = fields }

  /// The integer in `name`, or nil (NULL, text or no such column).
  public func integer(_ name: String) -> Int64? { if case .integer(let v)? = self[name] { v } else { nil } }
  /// The text in `name`, or nil (NULL, integer or no such column).
  public func text(_ name: String) -> String? { if case .text(let v)? = self[name] { v } else { nil } }

  public init(row: Row) {
    fields = row.columnNames.map { name in
      let value: LedgerValue =
        switch row[name] as DatabaseValue? {
        case .some(let db):
          switch db.storage {
          case .int64(let i): .integer(i)
          case .string(let s): .text(s)
          case .double(let d): .text(String(d))  // no REAL columns in the schema; never silently lost
          case .blob: .null
          case .null: .null
          }
        case .none: .null
        }
      return (name, value)
    }
  }
}

/// A page of account history: rows ordered by (time, platform key).
public struct LedgerPage: Sendable {
  public var records: [LedgerRecord]
  /// Where the next page starts (`time_msc.key`), or `nil` when this was the last.
  public var nextCursor: LedgerCursor?

  /// Merges the rows of a listing's sources (each already ordered and limited to
  /// `limit + 1`) into one page.
  public init(merging records: [LedgerRecord], listing: AccountListing, limit: Int) {
    var records = records
    let first = AccountListing.Source.of(listing)[0]
    // Two sources (positions) merge by the same order; one page of each suffices.
    records.sort { Self.order($0, first) < Self.order($1, first) }
    var next: LedgerCursor? = nil
    if records.count > limit {
      records.removeLast(records.count - limit)
      let (t, k) = Self.order(records[limit - 1], first)
      next = LedgerCursor(timeMsc: t, key: k)
    }
    self.records = records
    self.nextCursor = next
  }

  private static func order(_ record: LedgerRecord, _ source: AccountListing.Source) -> (Int64, Int64) {
    (record.integer(source.msc) ?? 0, record.integer(source.key) ?? 0)
  }
}

/// A position in an account listing: the broker time and the platform key of the
/// last row returned. Its text form is `"<time_msc>.<key>"`.
public struct LedgerCursor: Sendable, Equatable {
  public var timeMsc: Int64
  public var key: Int64
  public init(timeMsc: Int64, key: Int64) {
    self.timeMsc = timeMsc
    self.key = key
  }
  /// Parses `"<time_msc>.<key>"`; `nil` for anything else.
  public init?(text: String) {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 2, let t = Int64(parts[0]), let k = Int64(parts[1]) else { return nil }
    self.init(timeMsc: t, key: k)
  }
  public var text: String { "\(timeMsc).\(key)" }
}

/// The account listings the API pages through.
public enum AccountListing: String, Sendable, CaseIterable {
  /// MT5 deals (`deals`).
  case deals
  /// Open positions: MT5 `positions`, and MT4 open buy/sell `trades`.
  case positions
  /// Typed money movements (`balance_operations`).
  case balanceOperations = "balance-operations"
  /// MT4 trade records, open and closed (`trades`).
  case trades
}

/// Read-only queries behind the CRM HTTP API, on either backend.
public struct LedgerQueries: Sendable {
  let store: any LedgerStore

  public init(ledger: any LedgerStore) { store = ledger }

  public func servers() async throws -> [LedgerRecord] { try await store.servers() }
  public func account(serverId: Int64, login: Int64) async throws -> LedgerRecord? {
    try await store.account(serverId: serverId, login: login)
  }
  public func page(
    _ listing: AccountListing, serverId: Int64, login: Int64, fromUTC: String?, toUTC: String?,
    after: LedgerCursor?, limit: Int
  ) async throws -> LedgerPage {
    try await store.page(listing, serverId: serverId, login: login, fromUTC: fromUTC, toUTC: toUTC, after: after,
                         limit: limit)
  }
  public func changes(afterId: Int64, limit: Int) async throws -> [LedgerRecord] {
    try await store.changes(afterId: afterId, limit: limit)
  }
  public func lastChangeId() async throws -> Int64 { try await store.lastChangeId() }
}

/// The SQL of the read side, shared by both backends where the dialects agree
/// (every value bound: `?` on SQLite, `PostgresQuery` interpolation on PostgreSQL).
public enum LedgerReadSQL {
  /// `GET /v1/servers`.
  public static let servers = """
    SELECT s.id AS server_id, s.name, s.platform, s.utc_offset_minutes, s.last_seq,
           s.first_connected_utc, s.last_connected_utc, s.last_disconnected_utc,
           (SELECT e.received_utc FROM events e WHERE e.server_id = s.id ORDER BY e.seq DESC LIMIT 1)
             AS last_event_received_utc,
           (SELECT count(*) FROM gaps g WHERE g.server_id = s.id AND g.healed_utc IS NULL) AS open_gaps,
           s.last_reconciled_utc AS last_reconciliation_utc,
           (SELECT count(*) FROM reconciliation_sweeps r WHERE r.server_id = s.id AND r.status = 'held')
             AS held_sweeps,
           (SELECT max(r.id) FROM reconciliation_sweeps r WHERE r.server_id = s.id AND r.status = 'held')
             AS held_sweep_id
    FROM servers s ORDER BY s.id
    """
  /// `GET /v1/accounts/{server}/{login}`, followed by the bound `server_id` and `login`.
  public static let account = """
    SELECT a.server_id, a.login, a."group", a.name, a.email, a.country, a.currency, a.currency_digits,
           a.balance, a.credit, a.margin_mode, a.leverage, a.comment, a.registration_msc, a.registration_utc,
           a.last_update_msc, a.last_update_utc, a.deleted, a.updated_seq,
           (SELECT count(*) FROM positions p WHERE p.server_id = a.server_id AND p.login = a.login)
           + (SELECT count(*) FROM trades t WHERE t.server_id = a.server_id AND t.login = a.login
                AND t.is_open = 1 AND t.deleted = 0 AND t.cmd IN (0, 1)) AS open_positions
    FROM accounts a
    """
  /// The change feed: followed by `WHERE c.id > ID ORDER BY c.id LIMIT N`. A change
  /// is an event, or a command that became final (`changes.command_id`, migration
  /// `v6 commands`: kind `command`, seq 0, its final time as `time_utc`/`received_utc`).
  public static let changes = """
    SELECT c.id, c.server_id, c.seq, coalesce(e.kind, 'command') AS kind, e.time_msc,
           coalesce(e.time_utc, m.updated_utc) AS time_utc, coalesce(e.received_utc, m.updated_utc) AS received_utc,
           coalesce(e.summary, \(LedgerCommandCodec.changeSummarySQL)) AS summary
    FROM changes c
    LEFT JOIN events e ON c.command_id IS NULL AND e.server_id = c.server_id AND e.seq = c.seq
    LEFT JOIN commands m ON m.id = c.command_id
    """
  public static let lastChangeId = "SELECT coalesce(max(id), 0) FROM changes"
}

/// The SQLite read side (``Ledger``'s ``LedgerStore`` conformance). Reads run on
/// GRDB's reader pool, never the writer.
struct SQLiteLedgerReads: Sendable {
  let pool: DatabasePool

  func servers() async throws -> [LedgerRecord] {
    try await pool.read { db in try Row.fetchAll(db, sql: LedgerReadSQL.servers).map(LedgerRecord.init(row:)) }
  }

  func account(serverId: Int64, login: Int64) async throws -> LedgerRecord? {
    try await pool.read { db in
      try Row.fetchOne(db, sql: LedgerReadSQL.account + " WHERE a.server_id = ? AND a.login = ?",
                       arguments: [serverId, login]).map(LedgerRecord.init(row:))
    }
  }

  func page(
    _ listing: AccountListing, serverId: Int64, login: Int64, fromUTC: String?, toUTC: String?,
    after: LedgerCursor?, limit: Int
  ) async throws -> LedgerPage {
    try await pool.read { db in
      var records: [LedgerRecord] = []
      for source in AccountListing.Source.of(listing) {
        var sql = source.select + " WHERE server_id = ? AND login = ?"
        var arguments: StatementArguments = [serverId, login]
        if let filter = source.filter { sql += " AND \(filter)" }
        sql += ") AS listing WHERE 1 = 1"
        if let fromUTC { sql += " AND \(source.utc) >= ?"; arguments += [fromUTC] }
        if let toUTC { sql += " AND \(source.utc) < ?"; arguments += [toUTC] }
        if let after {
          sql += " AND (\(source.msc) > ? OR (\(source.msc) = ? AND \(source.key) > ?))"
          arguments += [after.timeMsc, after.timeMsc, after.key]
        }
        sql += " ORDER BY \(source.msc), \(source.key) LIMIT ?"
        arguments += [limit + 1]
        records += try Row.fetchAll(db, sql: sql, arguments: arguments).map(LedgerRecord.init(row:))
      }
      return LedgerPage(merging: records, listing: listing, limit: limit)
    }
  }

  func changes(afterId: Int64, limit: Int) async throws -> [LedgerRecord] {
    try await pool.read { db in
      try Row.fetchAll(db, sql: LedgerReadSQL.changes + " WHERE c.id > ? ORDER BY c.id LIMIT ?",
                       arguments: [afterId, limit]).map(LedgerRecord.init(row:))
    }
  }

  func lastChangeId() async throws -> Int64 {
    try await pool.read { db in try Int64.fetchOne(db, sql: LedgerReadSQL.lastChangeId) ?? 0 }
  }
}

extension AccountListing {
  /// Where a listing's rows come from; every source of a listing yields the same columns.
  public struct Source: Sendable {
    public var table: String
    public var columns: String
    public var filter: String?
    public var msc: String
    public var utc: String
    public var key: String

    /// `SELECT * FROM (SELECT columns FROM table`: the caller adds the bound
    /// `WHERE server_id, login`, the filter, `) AS listing` and the page bounds.
    public var select: String { "SELECT * FROM (SELECT \(columns) FROM \(table)" }

    public static func of(_ listing: AccountListing) -> [Source] {
      switch listing {
      case .deals:
        [Source(
          table: "deals", columns: """
            server_id, deal, login, "order", position_id, action, entry, reason, symbol, digits, currency_digits,
            time_msc, time_utc, price, volume_ext, contract_size, profit, commission, storage, fee, comment,
            external_id, deleted, updated_seq
            """, msc: "time_msc", utc: "time_utc", key: "deal")]
      case .balanceOperations:
        [Source(
          table: "balance_operations", columns: """
            server_id, ticket, source, login, type, platform_code, amount, time_msc, time_utc, comment, deleted,
            updated_seq
            """, msc: "time_msc", utc: "time_utc", key: "ticket")]
      case .trades:
        [Source(
          table: "trades", columns: """
            server_id, ticket, login, symbol, digits, cmd, volume, open_time, open_time * 1000 AS open_time_msc,
            open_time_utc, state, open_price, sl, tp, close_time, close_time_utc, close_price, commission, storage,
            profit, taxes, magic, comment, is_open, deleted, last_mode, updated_seq
            """, msc: "open_time_msc", utc: "open_time_utc", key: "ticket")]
      case .positions:
        [
          Source(
            table: "positions", columns: """
              server_id, position, login, symbol, action, digits, volume_ext, price_open, price_current, profit, storage,
              time_create_msc, time_create_utc, time_update_msc, time_update_utc, comment, 'mt5_position' AS source,
              updated_seq
              """, msc: "time_create_msc", utc: "time_create_utc", key: "position"),
          // MT4 keeps an open position as an open buy/sell trade record; volume is lots × 100
          // (× 10^6 gives MT5's 1/10^8 lot) and close_price is the current price while open.
          Source(
            table: "trades", columns: """
              server_id, ticket AS position, login, symbol, cmd AS action, digits, volume * 1000000 AS volume_ext,
              open_price AS price_open, close_price AS price_current, profit, storage,
              open_time * 1000 AS time_create_msc, open_time_utc AS time_create_utc,
              timestamp * 1000 AS time_update_msc, NULL AS time_update_utc, comment, 'mt4_trade' AS source,
              updated_seq
              """, filter: "is_open = 1 AND deleted = 0 AND cmd IN (0, 1)", msc: "time_create_msc",
            utc: "time_create_utc", key: "position"),
        ]
      }
    }
  }
}
