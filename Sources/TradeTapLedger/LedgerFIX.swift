import GRDB

extension LedgerSchema {
  /// Migration `v8 fix sessions`: each FIX drop copy session's sequence numbers and every
  /// report it sent (the change behind it and its body, the fields after the standard
  /// header), so a ResendRequest is served from the ledger, identical to the first send
  /// (docs/fix.md).
  static func createFIXSessions(_ db: Database) throws {
    try db.execute(sql: """
      CREATE TABLE fix_sessions (
        name            TEXT PRIMARY KEY NOT NULL,
        next_outgoing   INTEGER NOT NULL CHECK (next_outgoing >= 1),
        next_incoming   INTEGER NOT NULL CHECK (next_incoming >= 1),
        last_change_id  INTEGER NOT NULL CHECK (last_change_id >= 0),
        updated_utc     TEXT NOT NULL
      ) STRICT;
      CREATE TABLE fix_reports (
        session    TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        change_id  INTEGER NOT NULL,
        sent_utc   TEXT NOT NULL,
        body       TEXT NOT NULL,
        PRIMARY KEY (session, seq)
      ) STRICT;
      """)
  }
}

/// The SQL both backends share for FIX sessions (values bound).
public enum LedgerFIXSQL {
  /// The MT5 deal a report is about, followed by the bound `server_id` and `deal`.
  public static let deal = """
    SELECT server_id, deal, login, "order", position_id, action, entry, symbol, time_msc, time_utc,
           CAST(price AS TEXT) AS price, volume_ext, deleted
    FROM deals WHERE server_id = 
    """
  /// The MT4 trade a report is about, followed by the bound `server_id` and `ticket`.
  public static let trade = """
    SELECT server_id, ticket, login, symbol, cmd, volume, open_time, open_time_utc,
           CAST(open_price AS TEXT) AS open_price, deleted
    FROM trades WHERE server_id = 
    """

  static func state(_ row: LedgerRecord?) -> FIXSequenceState {
    guard let row else { return FIXSequenceState() }
    return FIXSequenceState(
      nextOutgoing: row.integer("next_outgoing") ?? 1, nextIncoming: row.integer("next_incoming") ?? 1,
      lastChangeId: row.integer("last_change_id") ?? 0)
  }

  public static func report(_ row: LedgerRecord) -> FIXSentReport {
    FIXSentReport(
      seq: row.integer("seq") ?? 0, changeId: row.integer("change_id") ?? 0, sentUtc: row.text("sent_utc") ?? "",
      body: row.text("body") ?? "")
  }
}

extension Ledger {
  public func fixSequences(_ session: String) async throws -> FIXSequenceState {
    try await pool.read { db in
      LedgerFIXSQL.state(try Row.fetchOne(db, sql: """
        SELECT next_outgoing, next_incoming, last_change_id FROM fix_sessions WHERE name = ?
        """, arguments: [session]).map(LedgerRecord.init(row:)))
    }
  }

  public func saveFIXSequences(_ session: String, _ state: FIXSequenceState, reports: [FIXSentReport], reset: Bool)
    async throws
  {
    let now = UTCTime.now()
    try await pool.write { db in
      if reset { try db.execute(sql: "DELETE FROM fix_reports WHERE session = ?", arguments: [session]) }
      for report in reports {
        try db.execute(
          sql: "INSERT OR REPLACE INTO fix_reports (session, seq, change_id, sent_utc, body) VALUES (?, ?, ?, ?, ?)",
          arguments: [session, report.seq, report.changeId, report.sentUtc, report.body])
      }
      try db.execute(sql: """
        INSERT INTO fix_sessions (name, next_outgoing, next_incoming, last_change_id, updated_utc) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET next_outgoing = excluded.next_outgoing, next_incoming = excluded.next_incoming,
          last_change_id = excluded.last_change_id, updated_utc = excluded.updated_utc
        """, arguments: [session, state.nextOutgoing, state.nextIncoming, state.lastChangeId, now])
    }
  }

  public func fixReports(_ session: String, fromSeq: Int64, throughSeq: Int64) async throws -> [FIXSentReport] {
    try await pool.read { db in
      try Row.fetchAll(db, sql: """
        SELECT seq, change_id, sent_utc, body FROM fix_reports WHERE session = ? AND seq BETWEEN ? AND ? ORDER BY seq
        """, arguments: [session, fromSeq, throughSeq]).map { LedgerFIXSQL.report(LedgerRecord(row: $0)) }
    }
  }

  public func fixDeal(serverId: Int64, deal: Int64) async throws -> LedgerRecord? {
    try await pool.read { db in
      try Row.fetchOne(db, sql: LedgerFIXSQL.deal + "? AND deal = ?", arguments: [serverId, deal]).map(LedgerRecord.init(row:))
    }
  }

  public func fixTrade(serverId: Int64, ticket: Int64) async throws -> LedgerRecord? {
    try await pool.read { db in
      try Row.fetchOne(db, sql: LedgerFIXSQL.trade + "? AND ticket = ?", arguments: [serverId, ticket])
        .map(LedgerRecord.init(row:))
    }
  }
}

/// A FIX session's sequence numbers as kept in the ledger (`fix_sessions`).
public struct FIXSequenceState: Sendable, Hashable {
  /// MsgSeqNum (34) of the next message the collector sends.
  public var nextOutgoing: Int64
  /// MsgSeqNum the collector expects next from the counterparty.
  public var nextIncoming: Int64
  /// The last change of the feed this session reported (or skipped as not a deal).
  public var lastChangeId: Int64

  public init(nextOutgoing: Int64 = 1, nextIncoming: Int64 = 1, lastChangeId: Int64 = 0) {
    self.nextOutgoing = nextOutgoing
    self.nextIncoming = nextIncoming
    self.lastChangeId = lastChangeId
  }
}

/// One application message a FIX session sent (`fix_reports`): its sequence number, the
/// change it reports and its body, sent again as it is for a resend.
public struct FIXSentReport: Sendable, Hashable {
  public var seq: Int64
  public var changeId: Int64
  /// SendingTime (52) of the first send, OrigSendingTime (122) of a resend.
  public var sentUtc: String
  /// The message's fields after the standard header, as sent (`tag=value`, SOH-separated).
  public var body: String

  public init(seq: Int64, changeId: Int64, sentUtc: String, body: String) {
    self.seq = seq
    self.changeId = changeId
    self.sentUtc = sentUtc
    self.body = body
  }
}
