import GRDB

extension LedgerSchema {
  /// Migration `v9 gateway tables` (docs/gateway.md, docs/ledger.md): what a gateway's
  /// plugin taps, one row per platform fact, written once (``LedgerRowShape/gatewayRequest``
  /// and the others: a replay changes nothing). `gateway_id` is the source id the
  /// gateway's events carry; `server_id` the trade server the record belongs to;
  /// `seq` the gateway event that wrote the row. Prices exact decimal TEXT.
  static func createGatewayTables(_ db: Database) throws {
    try db.execute(sql: """
      CREATE TABLE gateway_requests (
        gateway_id    INTEGER NOT NULL REFERENCES servers(id),
        server_id     INTEGER NOT NULL,
        request_id    INTEGER NOT NULL,
        login         INTEGER NOT NULL,
        "group"       TEXT NOT NULL DEFAULT '',
        symbol        TEXT NOT NULL DEFAULT '',
        digits        INTEGER NOT NULL,
        action        INTEGER NOT NULL,
        type          INTEGER NOT NULL,
        flags         INTEGER NOT NULL,
        volume_ext    INTEGER NOT NULL,
        "order"       INTEGER NOT NULL,
        position_id   INTEGER NOT NULL,
        price_order   TEXT NOT NULL,
        price_sl      TEXT NOT NULL,
        price_tp      TEXT NOT NULL,
        price_bid     TEXT NOT NULL,
        price_ask     TEXT NOT NULL,
        time_msc      INTEGER NOT NULL,
        time_utc      TEXT NOT NULL,
        comment       TEXT NOT NULL DEFAULT '',
        seq           INTEGER NOT NULL,
        UNIQUE (gateway_id, server_id, request_id)
      ) STRICT;

      CREATE TABLE gateway_answers (
        gateway_id    INTEGER NOT NULL REFERENCES servers(id),
        server_id     INTEGER NOT NULL,
        request_id    INTEGER NOT NULL,
        retcode       INTEGER NOT NULL,
        "order"       INTEGER NOT NULL,
        deal          INTEGER NOT NULL,
        volume_ext    INTEGER NOT NULL,
        price         TEXT NOT NULL,
        price_bid     TEXT NOT NULL,
        price_ask     TEXT NOT NULL,
        time_msc      INTEGER NOT NULL,
        time_utc      TEXT NOT NULL,
        comment       TEXT NOT NULL DEFAULT '',
        seq           INTEGER NOT NULL,
        UNIQUE (gateway_id, server_id, request_id, seq)
      ) STRICT;

      CREATE TABLE executions (
        gateway_id                 INTEGER NOT NULL REFERENCES servers(id),
        execution_id               INTEGER NOT NULL,
        server_id                  INTEGER NOT NULL,
        action                     INTEGER NOT NULL,
        flags                      INTEGER NOT NULL,
        request_id                 INTEGER NOT NULL,
        login                      INTEGER NOT NULL,
        "group"                    TEXT NOT NULL DEFAULT '',
        symbol                     TEXT NOT NULL DEFAULT '',
        digits                     INTEGER NOT NULL,
        "order"                    INTEGER NOT NULL,
        order_external_id          TEXT NOT NULL DEFAULT '',
        order_type                 INTEGER NOT NULL,
        order_volume_ext           INTEGER NOT NULL,
        order_price                TEXT NOT NULL,
        deal_external_id           TEXT NOT NULL DEFAULT '',
        deal_action                INTEGER NOT NULL,
        deal_volume_ext            INTEGER NOT NULL,
        deal_volume_remaining_ext  INTEGER NOT NULL,
        deal_price                 TEXT NOT NULL,
        price_gateway              TEXT NOT NULL,
        deal_commission            TEXT NOT NULL,
        position_id                INTEGER NOT NULL,
        external_retcode           INTEGER NOT NULL,
        time_msc                   INTEGER NOT NULL,
        time_utc                   TEXT NOT NULL,
        comment                    TEXT NOT NULL DEFAULT '',
        seq                        INTEGER NOT NULL,
        UNIQUE (gateway_id, execution_id)
      ) STRICT;
      CREATE INDEX executions_by_request ON executions(gateway_id, server_id, request_id);
      """)
  }
}

/// The gateway reads both backends share (values bound by the caller).
public enum LedgerGatewaySQL {
  /// `GET /v1/gateways`: every source with gateway requests or executions.
  public static let gateways = """
    SELECT s.id AS gateway_id, s.last_seq, s.first_connected_utc, s.last_connected_utc, s.last_disconnected_utc,
           (SELECT e.kind FROM events e WHERE e.server_id = s.id ORDER BY e.seq DESC LIMIT 1) AS last_event_kind,
           (SELECT e.received_utc FROM events e WHERE e.server_id = s.id ORDER BY e.seq DESC LIMIT 1)
             AS last_event_received_utc,
           (SELECT count(*) FROM gateway_requests r WHERE r.gateway_id = s.id) AS requests,
           (SELECT count(*) FROM gateway_answers a WHERE a.gateway_id = s.id) AS answers,
           (SELECT count(*) FROM executions x WHERE x.gateway_id = s.id) AS executions,
           (SELECT count(*) FROM executions x WHERE x.gateway_id = s.id AND x.action = 2) AS fills,
           (SELECT count(*) FROM executions x WHERE x.gateway_id = s.id AND x.action = 3) AS rejects,
           (SELECT max(x.execution_id) FROM executions x WHERE x.gateway_id = s.id) AS last_execution_id
    FROM servers s
    WHERE EXISTS (SELECT 1 FROM gateway_requests r WHERE r.gateway_id = s.id)
       OR EXISTS (SELECT 1 FROM executions x WHERE x.gateway_id = s.id)
    ORDER BY s.id
    """
  /// A gateway's executions: followed by the bound `gateway_id`, then the page bounds.
  public static let executions = """
    SELECT gateway_id, execution_id, server_id, action, flags, request_id, login, "group", symbol, digits, "order",
           order_external_id, order_type, order_volume_ext, order_price, deal_external_id, deal_action,
           deal_volume_ext, deal_volume_remaining_ext, deal_price, price_gateway, deal_commission, position_id,
           external_retcode, time_msc, time_utc, comment, seq
    FROM executions WHERE gateway_id = 
    """
}

/// One page of a gateway's executions, by execution id (`GET /v1/gateways/{id}/executions`).
public struct GatewayExecutionPage: Sendable {
  public var records: [LedgerRecord]
  /// The last execution id of this page when more follow, else nil.
  public var nextCursor: Int64?

  /// `records`: at most `limit + 1` rows in execution id order.
  public init(records: [LedgerRecord], limit: Int) {
    var records = records
    nextCursor = nil
    if records.count > limit {
      records.removeLast(records.count - limit)
      nextCursor = records.last?.integer("execution_id")
    }
    self.records = records
  }
}

extension LedgerQueries {
  public func gateways() async throws -> [LedgerRecord] { try await store.gateways() }
  public func gatewayExecutions(
    gatewayId: Int64, after: Int64, fromUTC: String?, toUTC: String?, limit: Int
  ) async throws -> GatewayExecutionPage {
    GatewayExecutionPage(
      records: try await store.gatewayExecutions(
        gatewayId: gatewayId, after: after, fromUTC: fromUTC, toUTC: toUTC, limit: limit + 1),
      limit: limit)
  }
}

extension Ledger {
  public func gateways() async throws -> [LedgerRecord] {
    try await pool.read { db in try Row.fetchAll(db, sql: LedgerGatewaySQL.gateways).map(LedgerRecord.init(row:)) }
  }

  public func gatewayExecutions(
    gatewayId: Int64, after: Int64, fromUTC: String?, toUTC: String?, limit: Int
  ) async throws -> [LedgerRecord] {
    try await pool.read { db in
      var sql = LedgerGatewaySQL.executions + "? AND execution_id > ?"
      var arguments: StatementArguments = [gatewayId, after]
      if let fromUTC { sql += " AND time_utc >= ?"; arguments += [fromUTC] }
      if let toUTC { sql += " AND time_utc < ?"; arguments += [toUTC] }
      sql += " ORDER BY execution_id LIMIT ?"
      arguments += [limit]
      return try Row.fetchAll(db, sql: sql, arguments: arguments).map(LedgerRecord.init(row:))
    }
  }
}
