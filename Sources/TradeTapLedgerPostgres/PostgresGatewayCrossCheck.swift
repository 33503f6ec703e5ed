import PostgresNIO
import TradeTapLedger

extension PostgresLedger {
  /// The SQLite ledger's ``Ledger/crossCheckGateways(grace:)`` on the same SQL text
  /// (``GatewayCrossCheckSQL``), in one PostgreSQL transaction.
  public func crossCheckGateways(grace: Duration) async throws -> GatewayCrossCheck {
    let now = GatewayCrossCheckSQL.nowMilliseconds()
    let cutoff = GatewayCrossCheckSQL.cutoff(grace: grace, nowMilliseconds: now)
    let nowText = UTCTime.text(millisecondsSinceEpoch: now)
    let logger = self.logger
    return try await client.withTransaction(logger: logger) { connection -> GatewayCrossCheck in
      try await Self.lockWriter(connection, logger: logger)
      func rows(_ text: String) async throws -> [LedgerRecord] {
        let pieces = GatewayCrossCheckSQL.pieces(text)
        var q = PostgresSQL(pieces[0])
        for piece in pieces.dropFirst() {
          q.bind(.text(cutoff))
          q.sql(piece)
        }
        var records: [LedgerRecord] = []
        for try await row in try await connection.query(q.query, logger: logger) {
          records.append(try LedgerRecord(postgres: row))
        }
        return records
      }
      var check = GatewayCrossCheck()
      var fills: [Int64: Int64] = [:]
      for row in try await rows(GatewayCrossCheckSQL.fillsCompared) {
        fills[row.integer("gateway_id") ?? 0] = row.integer("fills") ?? 0
      }
      check.fillsCompared = Int(fills.values.reduce(0, +))
      check.mismatches = try await rows(GatewayCrossCheckSQL.mismatches).compactMap(GatewayCrossCheckSQL.mismatch)
      let open = try await rows(GatewayCrossCheckSQL.open).compactMap(GatewayCrossCheckSQL.mismatch)
      for (gateway, writes) in GatewayCrossCheckSQL.writes(&check, open: open) {
        let compared = fills[gateway] ?? 0
        let count = Int64(writes.count)
        var sweep: Int64?
        for try await id in try await connection.query("""
          INSERT INTO reconciliation_sweeps (server_id, started_utc, finished_utc, snapshot_seq, accounts_compared,
            positions_compared, deals_compared, trades_compared, divergences, status, applied_utc, deletions,
            ledger_rows_compared)
          SELECT \(gateway), \(nowText), \(nowText), COALESCE((SELECT last_seq FROM servers WHERE id = \(gateway)), 0),
            0, 0, \(compared), 0, \(count), 'applied', \(nowText), 0, \(compared)
          RETURNING id
          """, logger: logger).decode(Int64.self) where sweep == nil {
          sweep = id
        }
        guard let sweep else { continue }
        for (m, correction) in writes {
          try await connection.query(
            "INSERT INTO servers (id, utc_offset_minutes) VALUES (\(m.serverId), \(Int64(0))) ON CONFLICT DO NOTHING",
            logger: logger
          ).drain()
          try await connection.query("""
            INSERT INTO reconciliation_divergences (sweep_id, server_id, subject, "key", field, ledger_value,
              platform_value, correction, detected_utc, status)
            VALUES (\(sweep), \(m.serverId), \(m.subject), \(m.key), \(m.kind.rawValue), \(m.dealValue), \(m.fillValue),
              \(correction), \(nowText), 'applied')
            """, logger: logger).drain()
          if correction == "reported" { check.recorded += 1 }
        }
      }
      return check
    }
  }
}
