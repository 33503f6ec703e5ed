import GRDB

extension LedgerSchema {
  /// Migration `v3 changes feed`: the ordered change feed the CRM API serves
  /// (`GET /v1/changes`, `/v1/changes/stream`).
  ///
  /// `changes.id` is an `INTEGER PRIMARY KEY` (a rowid alias, so `VACUUM` never
  /// renumbers it) appended by a trigger on every row the writer inserts into
  /// `events`, inside the writer's own transaction: a change is visible exactly
  /// when its event is durable, and an event the writer ignores as a duplicate
  /// (`INSERT OR IGNORE`) appends nothing. Events already in the ledger when the
  /// migration runs are appended in their insertion order. No secondary index:
  /// `(server_id, seq)` is already unique in `events`, and the write path stays lean.
  static func createChangesFeed(_ db: Database) throws {
    try db.execute(sql: """
      CREATE TABLE changes (
        id         INTEGER PRIMARY KEY NOT NULL,
        server_id  INTEGER NOT NULL,
        seq        INTEGER NOT NULL
      ) STRICT;
      INSERT INTO changes (server_id, seq) SELECT server_id, seq FROM events ORDER BY rowid;
      CREATE TRIGGER changes_append AFTER INSERT ON events
      BEGIN
        INSERT INTO changes (server_id, seq) VALUES (NEW.server_id, NEW.seq);
      END;
      """)
  }
}
