import Logging
import PostgresNIO

/// The PostgreSQL ledger's schema: the SQLite schema (`LedgerSchema`, docs/ledger.md)
/// table for table, column for column, constraint for constraint, with money and
/// prices as `NUMERIC` (exact, keeping the platform's scale), integers as `BIGINT`
/// (SQLite's INTEGER is 64-bit), flags as `BIGINT` 0/1 (the same SQL reads both),
/// blobs as `BYTEA`.
///
/// Migrations are named like SQLite's, recorded in `schema_migrations`, run once, in
/// order, inside one transaction under an advisory lock (two collectors starting
/// together do not race). Shipped migrations are never edited.
enum PostgresSchema {
  static let migrations: [(name: String, statements: [String])] = [
    ("v1 ledger tables", v1),
    ("v2 gaps refused events", ["ALTER TABLE gaps ADD COLUMN refused_events BIGINT"]),
    ("v3 changes feed", v3),
    ("v4 reconciliation", v4),
    ("v5 held reconciliation sweeps", v5),
    ("v6 commands", v6Commands),
    ("pg statement-level triggers", pgStatementTriggers),
    ("pg server check in one scan", pgServerCheckInOneScan),
    ("v7 outputs", v7Outputs),
    ("v8 fix sessions", v8FIXSessions),
    ("v9 gateway tables", v9GatewayTables),
  ]

  static func migrate(_ client: PostgresClient, logger: Logger) async throws {
    try await client.withTransaction(logger: logger) { connection in
      try await connection.query("SELECT pg_advisory_xact_lock(7400740074)", logger: logger)
      try await connection.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        logger: logger)
      var applied: Set<String> = []
      for try await name in try await connection.query("SELECT name FROM schema_migrations", logger: logger)
        .decode(String.self)
      {
        applied.insert(name)
      }
      for migration in migrations where !applied.contains(migration.name) {
        for statement in migration.statements {
          try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await connection.query("INSERT INTO schema_migrations (name) VALUES (\(migration.name))", logger: logger)
      }
    }
  }

  // Shipped: never edit. Change the schema with a new migration.
  static let v1 = [
    """
    CREATE TABLE servers (
      id                    BIGINT PRIMARY KEY NOT NULL,
      name                  TEXT,
      platform              BIGINT,
      utc_offset_minutes    BIGINT,
      last_seq              BIGINT NOT NULL DEFAULT 0,
      first_connected_utc   TEXT,
      last_connected_utc    TEXT,
      last_disconnected_utc TEXT
    )
    """,
    """
    CREATE TABLE accounts (
      server_id           BIGINT NOT NULL REFERENCES servers(id),
      login               BIGINT NOT NULL,
      "group"             TEXT NOT NULL DEFAULT '',
      name                TEXT NOT NULL DEFAULT '',
      email               TEXT NOT NULL DEFAULT '',
      country             TEXT NOT NULL DEFAULT '',
      currency            TEXT NOT NULL DEFAULT '',
      currency_digits     BIGINT,
      balance             NUMERIC NOT NULL DEFAULT 0,
      credit              NUMERIC NOT NULL DEFAULT 0,
      margin_mode         BIGINT,
      leverage            BIGINT,
      comment             TEXT NOT NULL DEFAULT '',
      registration_msc    BIGINT,
      registration_utc    TEXT,
      last_update_msc     BIGINT,
      last_update_utc     TEXT,
      deleted             BIGINT NOT NULL DEFAULT 0,
      updated_seq         BIGINT NOT NULL,
      PRIMARY KEY (server_id, login)
    )
    """,
    """
    CREATE TABLE deals (
      server_id        BIGINT NOT NULL REFERENCES servers(id),
      deal             BIGINT NOT NULL,
      external_id      TEXT NOT NULL DEFAULT '',
      login            BIGINT NOT NULL,
      "order"          BIGINT NOT NULL,
      position_id      BIGINT NOT NULL,
      action           BIGINT NOT NULL,
      entry            BIGINT NOT NULL,
      reason           BIGINT NOT NULL,
      symbol           TEXT NOT NULL DEFAULT '',
      digits           BIGINT NOT NULL,
      currency_digits  BIGINT NOT NULL,
      time_msc         BIGINT NOT NULL,
      time_utc         TEXT NOT NULL,
      price            NUMERIC NOT NULL,
      volume_ext       BIGINT NOT NULL,
      contract_size    NUMERIC NOT NULL,
      profit           NUMERIC NOT NULL,
      commission       NUMERIC NOT NULL,
      storage          NUMERIC NOT NULL,
      fee              NUMERIC NOT NULL,
      comment          TEXT NOT NULL DEFAULT '',
      deleted          BIGINT NOT NULL DEFAULT 0,
      updated_seq      BIGINT NOT NULL,
      UNIQUE (server_id, deal)
    )
    """,
    "CREATE INDEX deals_by_login ON deals(server_id, login, time_msc)",
    """
    CREATE TABLE orders (
      server_id           BIGINT NOT NULL REFERENCES servers(id),
      "order"             BIGINT NOT NULL,
      external_id         TEXT NOT NULL DEFAULT '',
      login               BIGINT NOT NULL,
      symbol              TEXT NOT NULL DEFAULT '',
      type                BIGINT NOT NULL,
      state               BIGINT NOT NULL,
      reason              BIGINT NOT NULL,
      digits              BIGINT NOT NULL,
      price_order         NUMERIC NOT NULL,
      price_sl            NUMERIC NOT NULL,
      price_tp            NUMERIC NOT NULL,
      volume_initial_ext  BIGINT NOT NULL,
      volume_current_ext  BIGINT NOT NULL,
      position_id         BIGINT NOT NULL,
      time_setup_msc      BIGINT NOT NULL,
      time_setup_utc      TEXT NOT NULL,
      time_done_msc       BIGINT NOT NULL,
      time_done_utc       TEXT,
      comment             TEXT NOT NULL DEFAULT '',
      in_history          BIGINT NOT NULL DEFAULT 0,
      updated_seq         BIGINT NOT NULL,
      UNIQUE (server_id, "order")
    )
    """,
    """
    CREATE TABLE positions (
      server_id        BIGINT NOT NULL REFERENCES servers(id),
      position         BIGINT NOT NULL,
      login            BIGINT NOT NULL,
      symbol           TEXT NOT NULL DEFAULT '',
      action           BIGINT NOT NULL,
      digits           BIGINT NOT NULL,
      volume_ext       BIGINT NOT NULL,
      price_open       NUMERIC NOT NULL,
      price_current    NUMERIC NOT NULL,
      profit           NUMERIC NOT NULL,
      storage          NUMERIC NOT NULL,
      time_create_msc  BIGINT NOT NULL,
      time_create_utc  TEXT NOT NULL,
      time_update_msc  BIGINT NOT NULL,
      time_update_utc  TEXT NOT NULL,
      comment          TEXT NOT NULL DEFAULT '',
      updated_seq      BIGINT NOT NULL,
      UNIQUE (server_id, position)
    )
    """,
    "CREATE INDEX positions_by_login ON positions(server_id, login)",
    """
    CREATE TABLE position_closures (
      server_id   BIGINT NOT NULL,
      position    BIGINT NOT NULL,
      closed_seq  BIGINT NOT NULL,
      PRIMARY KEY (server_id, position)
    )
    """,
    """
    CREATE TABLE trades (
      server_id        BIGINT NOT NULL REFERENCES servers(id),
      ticket           BIGINT NOT NULL,
      login            BIGINT NOT NULL,
      symbol           TEXT NOT NULL DEFAULT '',
      digits           BIGINT NOT NULL,
      cmd              BIGINT NOT NULL,
      volume           BIGINT NOT NULL,
      open_time        BIGINT NOT NULL,
      open_time_utc    TEXT NOT NULL,
      state            BIGINT NOT NULL,
      open_price       NUMERIC NOT NULL,
      sl               NUMERIC NOT NULL,
      tp               NUMERIC NOT NULL,
      close_time       BIGINT NOT NULL,
      close_time_utc   TEXT,
      close_price      NUMERIC NOT NULL,
      commission       NUMERIC NOT NULL,
      storage          NUMERIC NOT NULL,
      profit           NUMERIC NOT NULL,
      taxes            NUMERIC NOT NULL,
      magic            BIGINT NOT NULL,
      comment          TEXT NOT NULL DEFAULT '',
      timestamp        BIGINT NOT NULL,
      is_open          BIGINT NOT NULL,
      deleted          BIGINT NOT NULL DEFAULT 0,
      last_mode        BIGINT NOT NULL,
      updated_seq      BIGINT NOT NULL,
      UNIQUE (server_id, ticket)
    )
    """,
    "CREATE INDEX trades_by_login ON trades(server_id, login, is_open)",
    """
    CREATE TABLE balance_operations (
      server_id        BIGINT NOT NULL REFERENCES servers(id),
      ticket           BIGINT NOT NULL,
      source           TEXT NOT NULL CHECK (source IN ('mt5_deal', 'mt4_trade')),
      login            BIGINT NOT NULL,
      type             TEXT NOT NULL,
      platform_code    BIGINT NOT NULL,
      amount           NUMERIC NOT NULL,
      time_msc         BIGINT NOT NULL,
      time_utc         TEXT NOT NULL,
      comment          TEXT NOT NULL DEFAULT '',
      deleted          BIGINT NOT NULL DEFAULT 0,
      updated_seq      BIGINT NOT NULL,
      UNIQUE (server_id, ticket)
    )
    """,
    "CREATE INDEX balance_operations_by_login ON balance_operations(server_id, login, time_msc)",
    """
    CREATE TABLE events (
      server_id     BIGINT NOT NULL REFERENCES servers(id),
      seq           BIGINT NOT NULL,
      kind          TEXT NOT NULL,
      time_msc      BIGINT,
      time_utc      TEXT,
      received_utc  TEXT NOT NULL,
      summary       TEXT NOT NULL,
      body          BYTEA,
      UNIQUE (server_id, seq)
    )
    """,
    """
    CREATE TABLE quarantine (
      id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      server_id     BIGINT NOT NULL REFERENCES servers(id),
      seq           BIGINT NOT NULL,
      kind          TEXT NOT NULL,
      reason        TEXT NOT NULL,
      body          BYTEA NOT NULL,
      received_utc  TEXT NOT NULL,
      resolved      BIGINT NOT NULL DEFAULT 0,
      UNIQUE (server_id, seq)
    )
    """,
    """
    CREATE TABLE gaps (
      id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      server_id      BIGINT NOT NULL REFERENCES servers(id),
      first_seq      BIGINT NOT NULL,
      last_seq       BIGINT NOT NULL,
      reason         TEXT NOT NULL,
      detected_utc   TEXT NOT NULL,
      healed_utc     TEXT,
      UNIQUE (server_id, first_seq, last_seq),
      CHECK (first_seq <= last_seq)
    )
    """,
  ]

  /// The change feed: the same rule as SQLite's trigger. A row-level AFTER INSERT
  /// trigger fires only for rows actually inserted, so an event skipped by
  /// `ON CONFLICT DO NOTHING` appends nothing; ids come from an identity sequence,
  /// and the single writer commits one transaction at a time, so ids increase in
  /// commit order (a rolled-back transaction leaves a hole, never a reordering).
  static let v3 = [
    """
    CREATE TABLE changes (
      id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      server_id  BIGINT NOT NULL,
      seq        BIGINT NOT NULL
    )
    """,
    "INSERT INTO changes (server_id, seq) SELECT server_id, seq FROM events ORDER BY ctid",
    """
    CREATE FUNCTION changes_append() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO changes (server_id, seq) VALUES (NEW.server_id, NEW.seq);
      RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER changes_append AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION changes_append()",
  ]

  static let v4 = [
    """
    CREATE TABLE reconciliation_sweeps (
      id                   BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      server_id            BIGINT NOT NULL REFERENCES servers(id),
      started_utc          TEXT NOT NULL,
      finished_utc         TEXT NOT NULL,
      snapshot_seq         BIGINT NOT NULL,
      deal_window_from_msc BIGINT,
      deal_window_to_msc   BIGINT,
      accounts_compared    BIGINT NOT NULL,
      positions_compared   BIGINT NOT NULL,
      deals_compared       BIGINT NOT NULL,
      trades_compared      BIGINT NOT NULL,
      divergences          BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE reconciliation_divergences (
      id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      sweep_id       BIGINT NOT NULL REFERENCES reconciliation_sweeps(id),
      server_id      BIGINT NOT NULL REFERENCES servers(id),
      subject        TEXT NOT NULL,
      "key"          BIGINT NOT NULL,
      field          TEXT NOT NULL,
      ledger_value   TEXT,
      platform_value TEXT,
      correction     TEXT NOT NULL,
      detected_utc   TEXT NOT NULL
    )
    """,
    "CREATE INDEX reconciliation_divergences_subject ON reconciliation_divergences (server_id, subject, \"key\")",
    "ALTER TABLE servers ADD COLUMN last_reconciled_utc TEXT",
  ]

  /// Held sweeps (the SQLite ledger's `v5 held reconciliation sweeps`, docs/reconciliation.md).
  static let v5 = [
    """
    ALTER TABLE reconciliation_sweeps ADD COLUMN status TEXT NOT NULL DEFAULT 'applied'
      CHECK (status IN ('applied', 'held', 'superseded'))
    """,
    "ALTER TABLE reconciliation_sweeps ADD COLUMN applied_utc TEXT",
    "ALTER TABLE reconciliation_sweeps ADD COLUMN deletions BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE reconciliation_sweeps ADD COLUMN deletion_limit BIGINT",
    "ALTER TABLE reconciliation_sweeps ADD COLUMN ledger_rows_compared BIGINT NOT NULL DEFAULT 0",
    "UPDATE reconciliation_sweeps SET applied_utc = finished_utc",
    "CREATE INDEX reconciliation_sweeps_status ON reconciliation_sweeps (server_id, status)",
    """
    ALTER TABLE reconciliation_divergences ADD COLUMN status TEXT NOT NULL DEFAULT 'applied'
      CHECK (status IN ('applied', 'held'))
    """,
  ]
}
