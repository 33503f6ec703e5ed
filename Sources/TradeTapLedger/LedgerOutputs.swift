import GRDB

extension LedgerSchema {
  /// Migration `v7 outputs`: each output's cursor in the change feed and the batches
  /// its destination refused for good (docs/outputs.md).
  static func createOutputs(_ db: Database) throws {
    try db.execute(sql: """
      CREATE TABLE output_cursors (
        name         TEXT PRIMARY KEY NOT NULL,
        change_id    INTEGER NOT NULL CHECK (change_id >= 0),
        updated_utc  TEXT NOT NULL
      ) STRICT;
      CREATE TABLE output_dead_letters (
        id               INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
        output           TEXT NOT NULL,
        first_change_id  INTEGER NOT NULL,
        last_change_id   INTEGER NOT NULL,
        status           INTEGER NOT NULL,
        response         TEXT NOT NULL,
        failed_utc       TEXT NOT NULL,
        redriven_utc     TEXT
      ) STRICT;
      CREATE INDEX output_dead_letters_by_output ON output_dead_letters (output, id);
      """)
  }
}

/// The SQL both backends share for outputs (values bound).
public enum LedgerOutputSQL {
  public static let deadLetterColumns =
    "id, output, first_change_id, last_change_id, status, response, failed_utc, redriven_utc"

  public static func deadLetter(_ row: LedgerRecord) -> OutputDeadLetter {
    OutputDeadLetter(
      id: row.integer("id") ?? 0, output: row.text("output") ?? "", firstChangeId: row.integer("first_change_id") ?? 0,
      lastChangeId: row.integer("last_change_id") ?? 0, status: Int(row.integer("status") ?? 0),
      response: row.text("response") ?? "", failedUtc: row.text("failed_utc") ?? "", redrivenUtc: row.text("redriven_utc"))
  }

  /// The answer kept: at most ``OutputDeadLetter/maxResponseBytes`` of UTF-8, cut on a character.
  public static func keptResponse(_ text: String) -> String {
    var kept = ""
    for character in text {
      guard kept.utf8.count + character.utf8.count <= OutputDeadLetter.maxResponseBytes else { break }
      kept.append(character)
    }
    return kept
  }
}

extension Ledger {
  public func outputCursor(_ name: String) async throws -> Int64 {
    try await pool.read { db in
      try Int64.fetchOne(db, sql: "SELECT change_id FROM output_cursors WHERE name = ?", arguments: [name]) ?? 0
    }
  }

  public func advanceOutputCursor(_ name: String, to changeId: Int64) async throws {
    let now = UTCTime.now()
    try await pool.write { db in try Self.advance(db, name, changeId, now) }
  }

  private static func advance(_ db: Database, _ name: String, _ changeId: Int64, _ now: String) throws {
    try db.execute(sql: """
      INSERT INTO output_cursors (name, change_id, updated_utc) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET change_id = max(change_id, excluded.change_id), updated_utc = excluded.updated_utc
      """, arguments: [name, changeId, now])
  }

  public func deadLetter(
    output: String, firstChangeId: Int64, lastChangeId: Int64, status: Int, response: String
  ) async throws -> OutputDeadLetter {
    let now = UTCTime.now()
    let kept = LedgerOutputSQL.keptResponse(response)
    return try await pool.write { db in
      try db.execute(sql: """
        INSERT INTO output_dead_letters (output, first_change_id, last_change_id, status, response, failed_utc)
        VALUES (?, ?, ?, ?, ?, ?)
        """, arguments: [output, firstChangeId, lastChangeId, status, kept, now])
      let id = db.lastInsertedRowID
      try Self.advance(db, output, lastChangeId, now)
      return OutputDeadLetter(
        id: id, output: output, firstChangeId: firstChangeId, lastChangeId: lastChangeId, status: status,
        response: kept, failedUtc: now)
    }
  }

  public func deadLetters(output: String, waitingOnly: Bool, limit: Int) async throws -> [OutputDeadLetter] {
    try await pool.read { db in
      try Row.fetchAll(db, sql: """
        SELECT \(LedgerOutputSQL.deadLetterColumns) FROM output_dead_letters
        WHERE output = ? \(waitingOnly ? "AND redriven_utc IS NULL" : "") ORDER BY id LIMIT ?
        """, arguments: [output, max(0, limit)]).map { LedgerOutputSQL.deadLetter(LedgerRecord(row: $0)) }
    }
  }

  public func markRedriven(output: String, id: Int64) async throws -> OutputDeadLetter? {
    let now = UTCTime.now()
    return try await pool.write { db in
      try db.execute(
        sql: "UPDATE output_dead_letters SET redriven_utc = coalesce(redriven_utc, ?) WHERE output = ? AND id = ?",
        arguments: [now, output, id])
      return try Row.fetchOne(db, sql: """
        SELECT \(LedgerOutputSQL.deadLetterColumns) FROM output_dead_letters WHERE output = ? AND id = ?
        """, arguments: [output, id]).map { LedgerOutputSQL.deadLetter(LedgerRecord(row: $0)) }
    }
  }
}
