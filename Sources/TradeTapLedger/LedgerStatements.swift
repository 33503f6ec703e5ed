import GRDB

/// The SQL the writer runs. Upserts are built from the core's row shapes
/// (``LedgerRowShape``), so every upsert has the same guard: a row changes only when the incoming event is newer
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

  /// One upsert per ``LedgerRowShape`` (by id), built once: a commit only looks them up.
  static let shapeUpserts: [String] = LedgerRowShape.all.map {
    $0.insertOnly
      ? insertOnce($0.table.rawValue, columns: $0.columns)
      : upsert($0.table.rawValue, columns: $0.columns, conflict: $0.conflict)
  }

  /// A platform fact written once: a row already there under any unique key stays.
  static func insertOnce(_ table: String, columns: [String]) -> String {
    "INSERT INTO \(table) (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) VALUES ("
      + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ") ON CONFLICT DO NOTHING"
  }
  /// The same, as reconciliation's corrections write them (`>=`: at the durable sequence).
  static let shapeCorrections: [String] = shapeUpserts.map { correcting($0) }

  static let insertEvent = """
    INSERT OR IGNORE INTO events (server_id, seq, kind, time_msc, time_utc, received_utc, summary, body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    """

  static let ensureServer = "INSERT OR IGNORE INTO servers (id, utc_offset_minutes) VALUES (?, ?)"
  static let serverLastSeq = "SELECT last_seq FROM servers WHERE id = ?"
  static let advanceServer = """
    UPDATE servers SET last_seq = max(last_seq, ?), utc_offset_minutes = coalesce(?, utc_offset_minutes) WHERE id = ?
    """

  static let positionClosedSeq = "SELECT closed_seq FROM position_closures WHERE server_id = ? AND position = ?"
  static let deletePosition = "DELETE FROM positions WHERE server_id = ? AND position = ? AND updated_seq < ?"
  static let recordPositionClosure = """
    INSERT INTO position_closures (server_id, position, closed_seq) VALUES (?, ?, ?)
    ON CONFLICT (server_id, position) DO UPDATE SET closed_seq = max(closed_seq, excluded.closed_seq)
    """

  static let insertQuarantine = """
    INSERT OR IGNORE INTO quarantine (server_id, seq, kind, reason, body, received_utc)
    VALUES (?, ?, ?, ?, ?, ?)
    """

  static let insertGap = """
    INSERT OR IGNORE INTO gaps (server_id, first_seq, last_seq, reason, detected_utc, refused_events)
    VALUES (?, ?, ?, ?, ?, ?)
    """
}
