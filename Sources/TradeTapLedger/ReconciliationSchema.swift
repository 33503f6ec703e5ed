import Foundation
import GRDB

extension LedgerSchema {
  /// Migration `v4 reconciliation`: what each reconciliation sweep compared and
  /// every divergence it found and corrected (docs/reconciliation.md).
  ///
  /// - `reconciliation_sweeps`: one row per completed sweep of one server;
  ///   `snapshot_seq` is the stream point the snapshot corresponds to (the plugin
  ///   had sent every event through it before answering).
  /// - `reconciliation_divergences`: one row per differing field (or missing /
  ///   unexpected row), with the ledger's and the platform's values and the
  ///   correction the sweep wrote. Append-only: a CRM follows it by `id`.
  /// - `servers.last_reconciled_utc`: when the last sweep of the server completed.
  static func createReconciliationTables(_ db: Database) throws {
    try db.execute(sql: """
      CREATE TABLE reconciliation_sweeps (
        id                   INTEGER PRIMARY KEY NOT NULL,
        server_id            INTEGER NOT NULL REFERENCES servers(id),
        started_utc          TEXT NOT NULL,
        finished_utc         TEXT NOT NULL,
        snapshot_seq         INTEGER NOT NULL,
        deal_window_from_msc INTEGER,
        deal_window_to_msc   INTEGER,
        accounts_compared    INTEGER NOT NULL,
        positions_compared   INTEGER NOT NULL,
        deals_compared       INTEGER NOT NULL,
        trades_compared      INTEGER NOT NULL,
        divergences          INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE reconciliation_divergences (
        id             INTEGER PRIMARY KEY NOT NULL,
        sweep_id       INTEGER NOT NULL REFERENCES reconciliation_sweeps(id),
        server_id      INTEGER NOT NULL REFERENCES servers(id),
        subject        TEXT NOT NULL,
        "key"          INTEGER NOT NULL,
        field          TEXT NOT NULL,
        ledger_value   TEXT,
        platform_value TEXT,
        correction     TEXT NOT NULL,
        detected_utc   TEXT NOT NULL
      ) STRICT;
      CREATE INDEX reconciliation_divergences_subject ON reconciliation_divergences (server_id, subject, "key");
      ALTER TABLE servers ADD COLUMN last_reconciled_utc TEXT;
      """)
  }
}

extension LedgerSchema {
  /// Migration `v5 held reconciliation sweeps` (docs/reconciliation.md, "Held sweeps"):
  /// - `reconciliation_sweeps.status`: `applied` (corrected when it ran; every sweep
  ///   before this migration), `held` (it would have deleted or zeroed more rows than
  ///   `--reconcile-max-deletions` allows: nothing corrected, waiting for an operator),
  ///   `superseded` (held, then a later sweep of the server completed); `applied_utc`:
  ///   when its corrections were written (a held sweep: when an operator applied it).
  /// - `deletions`, `deletion_limit`, `ledger_rows_compared`: rows the sweep deletes
  ///   or zeroes, the most it was allowed (NULL: no limit), the ledger rows it compared.
  /// - `reconciliation_divergences.status`: `applied` or `held`, fixed when the row is
  ///   written (append-only still): applying a held sweep appends the divergences it
  ///   corrected as new `applied` rows of the same sweep.
  static func addHeldSweeps(_ db: Database) throws {
    try db.execute(sql: """
      ALTER TABLE reconciliation_sweeps ADD COLUMN status TEXT NOT NULL DEFAULT 'applied'
        CHECK (status IN ('applied', 'held', 'superseded'));
      ALTER TABLE reconciliation_sweeps ADD COLUMN applied_utc TEXT;
      ALTER TABLE reconciliation_sweeps ADD COLUMN deletions INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE reconciliation_sweeps ADD COLUMN deletion_limit INTEGER;
      ALTER TABLE reconciliation_sweeps ADD COLUMN ledger_rows_compared INTEGER NOT NULL DEFAULT 0;
      UPDATE reconciliation_sweeps SET applied_utc = finished_utc;
      CREATE INDEX reconciliation_sweeps_status ON reconciliation_sweeps (server_id, status);
      ALTER TABLE reconciliation_divergences ADD COLUMN status TEXT NOT NULL DEFAULT 'applied'
        CHECK (status IN ('applied', 'held'));
      """)
  }
}

extension LedgerStatements {
  /// An upsert whose guard also lets a correction replace a row of the same
  /// `updated_seq`: reconciliation writes at the durable sequence, which the last
  /// live event may also carry.
  static func correcting(_ sql: String) -> String {
    sql.replacingOccurrences(of: "WHERE excluded.updated_seq > ", with: "WHERE excluded.updated_seq >= ")
  }
}
