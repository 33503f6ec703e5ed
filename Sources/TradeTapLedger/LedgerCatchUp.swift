import GRDB

/// How far the ledger has caught up with one trade server (``LedgerStore/catchUp(serverId:)``),
/// read while the collector writes it; `tradetap demo` waits on it before verifying.
///
/// Every event the hooks received ends either as an `events` row (applied,
/// quarantined or filtered) or inside an overflow gap's `refused_events` (the
/// plugin's journal was full); reconciliation heals a gap by setting `healed_utc`.
public struct LedgerCatchUp: Sendable, Equatable {
  /// `events` rows that stand for hook events (gap records excluded).
  public var events = 0
  /// Events the plugin's journal refused while full, summed over the gap rows.
  public var refused = 0
  /// Gap rows recorded, and those no reconciliation sweep has healed yet.
  public var gaps = 0
  public var openGaps = 0
  /// Sequence numbers (or refused events) covered by the open gaps.
  public var openGapEvents = 0

  public init(events: Int = 0, refused: Int = 0, gaps: Int = 0, openGaps: Int = 0, openGapEvents: Int = 0) {
    self.events = events
    self.refused = refused
    self.gaps = gaps
    self.openGaps = openGaps
    self.openGapEvents = openGapEvents
  }

  /// Hook events the ledger accounts for: delivered, or refused and covered by a gap.
  public var accounted: Int { events + refused }

  public init(_ record: LedgerRecord) {
    func count(_ name: String) -> Int { Int(record.integer(name) ?? 0) }
    self.init(
      events: count("hook_events"), refused: count("refused_events"), gaps: count("gaps"),
      openGaps: count("open_gaps"), openGapEvents: count("open_gap_events"))
  }
}

extension LedgerReadSQL {
  /// ``LedgerCatchUp``'s counts, followed by the bound `server_id` and `AS id) s`
  /// (sums cast back to BIGINT: PostgreSQL sums BIGINT as NUMERIC).
  public static let catchUp = """
    SELECT
      (SELECT count(*) FROM events e WHERE e.server_id = s.id AND e.kind <> 'gap') AS hook_events,
      (SELECT CAST(coalesce(sum(g.refused_events), 0) AS BIGINT) FROM gaps g WHERE g.server_id = s.id)
        AS refused_events,
      (SELECT count(*) FROM gaps g WHERE g.server_id = s.id) AS gaps,
      (SELECT count(*) FROM gaps g WHERE g.server_id = s.id AND g.healed_utc IS NULL) AS open_gaps,
      (SELECT CAST(coalesce(sum(coalesce(g.refused_events, g.last_seq - g.first_seq + 1)), 0) AS BIGINT)
         FROM gaps g WHERE g.server_id = s.id AND g.healed_utc IS NULL) AS open_gap_events
    FROM (SELECT 
    """
}

extension Ledger {
  public func catchUp(serverId: Int64) async throws -> LedgerCatchUp {
    try await pool.read { db in
      let row = try Row.fetchOne(db, sql: LedgerReadSQL.catchUp + "? AS id) s", arguments: [serverId])
      return row.map { LedgerCatchUp(LedgerRecord(row: $0)) } ?? LedgerCatchUp()
    }
  }
}
