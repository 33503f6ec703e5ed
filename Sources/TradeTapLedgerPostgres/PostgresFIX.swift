import Logging
import PostgresNIO
import TradeTapLedger

extension PostgresSchema {
  /// The SQLite ledger's `v8 fix sessions` (docs/fix.md): each FIX drop copy session's
  /// sequence numbers and the change behind each report it sent.
  static let v8FIXSessions = [
    """
    CREATE TABLE fix_sessions (
      name            TEXT PRIMARY KEY,
      next_outgoing   BIGINT NOT NULL CHECK (next_outgoing >= 1),
      next_incoming   BIGINT NOT NULL CHECK (next_incoming >= 1),
      last_change_id  BIGINT NOT NULL CHECK (last_change_id >= 0),
      updated_utc     TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE fix_reports (
      session    TEXT NOT NULL,
      seq        BIGINT NOT NULL,
      change_id  BIGINT NOT NULL,
      sent_utc   TEXT NOT NULL,
      body       TEXT NOT NULL,
      PRIMARY KEY (session, seq)
    )
    """,
  ]
}

extension PostgresLedger {
  public func fixSequences(_ session: String) async throws -> FIXSequenceState {
    let row = try await records("""
      SELECT next_outgoing, next_incoming, last_change_id FROM fix_sessions WHERE name = \(session)
      """).first
    guard let row else { return FIXSequenceState() }
    return FIXSequenceState(
      nextOutgoing: row.integer("next_outgoing") ?? 1, nextIncoming: row.integer("next_incoming") ?? 1,
      lastChangeId: row.integer("last_change_id") ?? 0)
  }

  public func saveFIXSequences(_ session: String, _ state: FIXSequenceState, reports: [FIXSentReport], reset: Bool)
    async throws
  {
    let now = UTCTime.now()
    let logger = self.logger
    try await client.withTransaction(logger: logger) { connection in
      if reset {
        try await connection.query("DELETE FROM fix_reports WHERE session = \(session)", logger: logger).drain()
      }
      for report in reports {
        try await connection.query("""
          INSERT INTO fix_reports (session, seq, change_id, sent_utc, body)
          VALUES (\(session), \(report.seq), \(report.changeId), \(report.sentUtc), \(report.body))
          ON CONFLICT (session, seq) DO UPDATE SET change_id = excluded.change_id, sent_utc = excluded.sent_utc,
            body = excluded.body
          """, logger: logger).drain()
      }
      try await connection.query("""
        INSERT INTO fix_sessions (name, next_outgoing, next_incoming, last_change_id, updated_utc)
        VALUES (\(session), \(state.nextOutgoing), \(state.nextIncoming), \(state.lastChangeId), \(now))
        ON CONFLICT (name) DO UPDATE SET next_outgoing = excluded.next_outgoing,
          next_incoming = excluded.next_incoming, last_change_id = excluded.last_change_id,
          updated_utc = excluded.updated_utc
        """, logger: logger).drain()
    }
  }

  public func fixReports(_ session: String, fromSeq: Int64, throughSeq: Int64) async throws -> [FIXSentReport] {
    try await records("""
      SELECT seq, change_id, sent_utc, body FROM fix_reports
      WHERE session = \(session) AND seq BETWEEN \(fromSeq) AND \(throughSeq) ORDER BY seq
      """).map(LedgerFIXSQL.report)
  }

  public func fixDeal(serverId: Int64, deal: Int64) async throws -> LedgerRecord? {
    try await records("\(unescaped: LedgerFIXSQL.deal)\(serverId) AND deal = \(deal)").first
  }

  public func fixTrade(serverId: Int64, ticket: Int64) async throws -> LedgerRecord? {
    try await records("\(unescaped: LedgerFIXSQL.trade)\(serverId) AND ticket = \(ticket)").first
  }
}
