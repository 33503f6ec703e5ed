import Foundation
import GRDB

/// How far the demo's SQLite ledger has caught up with one trade server, read
/// from its public schema (docs/ledger.md) while the collector writes it.
///
/// Every event the hooks received ends either as an `events` row (applied,
/// quarantined or filtered) or inside an overflow gap's `refused_events` (the
/// plugin's journal was full); reconciliation heals a gap by setting `healed_utc`.
struct LedgerCatchUp: Equatable {
  /// `events` rows that stand for hook events (gap records excluded).
  var events = 0
  /// Events the plugin's journal refused while full, summed over the gap rows.
  var refused = 0
  /// Gap rows recorded, and those no reconciliation sweep has healed yet.
  var gaps = 0
  var openGaps = 0
  /// Sequence numbers (or refused events) covered by the open gaps.
  var openGapEvents = 0

  /// Hook events the ledger accounts for: delivered, or refused and covered by a gap.
  var accounted: Int { events + refused }

  /// Reads the counts; nil while the ledger cannot be read (not created yet, busy).
  static func read(ledger path: String, serverID: Int64) -> LedgerCatchUp? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    var configuration = Configuration()
    configuration.readonly = true
    configuration.busyMode = .timeout(2)
    do {
      let queue = try DatabaseQueue(path: path, configuration: configuration)
      return try queue.read { db -> LedgerCatchUp? in
        guard let row = try Row.fetchOne(db, sql: """
          SELECT
            (SELECT count(*) FROM events WHERE server_id = ?1 AND kind <> 'gap') AS events,
            (SELECT coalesce(sum(refused_events), 0) FROM gaps WHERE server_id = ?1) AS refused,
            (SELECT count(*) FROM gaps WHERE server_id = ?1) AS gaps,
            (SELECT count(*) FROM gaps WHERE server_id = ?1 AND healed_utc IS NULL) AS open_gaps,
            (SELECT coalesce(sum(coalesce(refused_events, last_seq - first_seq + 1)), 0)
               FROM gaps WHERE server_id = ?1 AND healed_utc IS NULL) AS open_gap_events
          """, arguments: [serverID])
        else { return nil }
        return LedgerCatchUp(
          events: row["events"], refused: row["refused"], gaps: row["gaps"],
          openGaps: row["open_gaps"], openGapEvents: row["open_gap_events"])
      }
    } catch {
      return nil
    }
  }
}
