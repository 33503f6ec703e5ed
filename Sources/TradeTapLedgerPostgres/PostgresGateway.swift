import PostgresNIO
import TradeTapLedger

extension PostgresSchema {
  /// The SQLite ledger's `v9 gateway tables` (docs/gateway.md): a gateway's requests,
  /// answers and executions, each written once on its platform keys. Prices NUMERIC.
  static let v9GatewayTables = [
    """
    CREATE TABLE gateway_requests (
      gateway_id    BIGINT NOT NULL REFERENCES servers(id),
      server_id     BIGINT NOT NULL,
      request_id    BIGINT NOT NULL,
      login         BIGINT NOT NULL,
      "group"       TEXT NOT NULL DEFAULT '',
      symbol        TEXT NOT NULL DEFAULT '',
      digits        BIGINT NOT NULL,
      action        BIGINT NOT NULL,
      type          BIGINT NOT NULL,
      flags         BIGINT NOT NULL,
      volume_ext    BIGINT NOT NULL,
      "order"       BIGINT NOT NULL,
      position_id   BIGINT NOT NULL,
      price_order   NUMERIC NOT NULL,
      price_sl      NUMERIC NOT NULL,
      price_tp      NUMERIC NOT NULL,
      price_bid     NUMERIC NOT NULL,
      price_ask     NUMERIC NOT NULL,
      time_msc      BIGINT NOT NULL,
      time_utc      TEXT NOT NULL,
      comment       TEXT NOT NULL DEFAULT '',
      seq           BIGINT NOT NULL,
      UNIQUE (gateway_id, server_id, request_id)
    )
    """,
    """
    CREATE TABLE gateway_answers (
      gateway_id    BIGINT NOT NULL REFERENCES servers(id),
      server_id     BIGINT NOT NULL,
      request_id    BIGINT NOT NULL,
      retcode       BIGINT NOT NULL,
      "order"       BIGINT NOT NULL,
      deal          BIGINT NOT NULL,
      volume_ext    BIGINT NOT NULL,
      price         NUMERIC NOT NULL,
      price_bid     NUMERIC NOT NULL,
      price_ask     NUMERIC NOT NULL,
      time_msc      BIGINT NOT NULL,
      time_utc      TEXT NOT NULL,
      comment       TEXT NOT NULL DEFAULT '',
      seq           BIGINT NOT NULL,
      UNIQUE (gateway_id, server_id, request_id, seq)
    )
    """,
    """
    CREATE TABLE executions (
      gateway_id                 BIGINT NOT NULL REFERENCES servers(id),
      execution_id               BIGINT NOT NULL,
      server_id                  BIGINT NOT NULL,
      action                     BIGINT NOT NULL,
      flags                      BIGINT NOT NULL,
      request_id                 BIGINT NOT NULL,
      login                      BIGINT NOT NULL,
      "group"                    TEXT NOT NULL DEFAULT '',
      symbol                     TEXT NOT NULL DEFAULT '',
      digits                     BIGINT NOT NULL,
      "order"                    BIGINT NOT NULL,
      order_external_id          TEXT NOT NULL DEFAULT '',
      order_type                 BIGINT NOT NULL,
      order_volume_ext           BIGINT NOT NULL,
      order_price                NUMERIC NOT NULL,
      deal_external_id           TEXT NOT NULL DEFAULT '',
      deal_action                BIGINT NOT NULL,
      deal_volume_ext            BIGINT NOT NULL,
      deal_volume_remaining_ext  BIGINT NOT NULL,
      deal_price                 NUMERIC NOT NULL,
      price_gateway              NUMERIC NOT NULL,
      deal_commission            NUMERIC NOT NULL,
      position_id                BIGINT NOT NULL,
      external_retcode           BIGINT NOT NULL,
      time_msc                   BIGINT NOT NULL,
      time_utc                   TEXT NOT NULL,
      comment                    TEXT NOT NULL DEFAULT '',
      seq                        BIGINT NOT NULL,
      UNIQUE (gateway_id, execution_id)
    )
    """,
    """
    CREATE INDEX executions_by_request ON executions(gateway_id, server_id, request_id)
    """,
  ]
}

extension PostgresLedger {
  public func gateways() async throws -> [LedgerRecord] {
    try await records("\(unescaped: LedgerGatewaySQL.gateways)")
  }

  public func gatewayExecutions(
    gatewayId: Int64, after: Int64, fromUTC: String?, toUTC: String?, limit: Int
  ) async throws -> [LedgerRecord] {
    var q = PostgresSQL(LedgerGatewaySQL.executions)
    q.bind(.integer(gatewayId))
    q.sql(" AND execution_id > ")
    q.bind(.integer(after))
    if let fromUTC { q.sql(" AND time_utc >= "); q.bind(.text(fromUTC)) }
    if let toUTC { q.sql(" AND time_utc < "); q.bind(.text(toUTC)) }
    q.sql(" ORDER BY execution_id LIMIT ")
    q.bind(.integer(Int64(limit)))
    return try await records(q.query)
  }
}

extension PostgresLedger {
  public func gatewayQualityRows(gatewayId: Int64, fromUTC: String?, toUTC: String?, symbol: String?) async throws
    -> GatewayQualityRows
  {
    func rows(_ sql: String) async throws -> [LedgerRecord] {
      var q = PostgresSQL(sql)
      q.bind(.integer(gatewayId))
      if let fromUTC { q.sql(" AND r.time_utc >= "); q.bind(.text(fromUTC)) }
      if let toUTC { q.sql(" AND r.time_utc < "); q.bind(.text(toUTC)) }
      if let symbol { q.sql(" AND r.symbol = "); q.bind(.text(symbol)) }
      return try await records(q.query)
    }
    return GatewayQualityRows(
      requests: try await rows(LedgerGatewaySQL.qualityRequests), answers: try await rows(LedgerGatewaySQL.qualityAnswers),
      executions: try await rows(LedgerGatewaySQL.qualityExecutions))
  }
}
