import GRDB

/// The ledger's schema: a public interface that CRM teams read with SQL
/// (documented in `docs/ledger.md`).
///
/// Migrations are named and never edited once shipped; a change is a new
/// migration appended to ``migrator``. Conventions every table follows:
/// - Money and prices are exact decimal TEXT (`'1234.56'`), never REAL.
/// - Broker time is the platform's own integer (`*_msc` milliseconds, or `*_time`
///   seconds for MT4 records); UTC is ISO-8601 TEXT (`*_utc`, `2026-11-25T20:15:00.000Z`).
/// - `updated_seq` is the sequence number of the event that produced the row's
///   current state: an older event never overwrites a newer state.
public enum LedgerSchema {
  /// The migrator holding every shipped migration, in order.
  public static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1 ledger tables", migrate: createLedgerTables)
    migrator.registerMigration("v2 gaps refused events", migrate: addGapRefusedEvents)
    migrator.registerMigration("v3 changes feed", migrate: createChangesFeed)
    migrator.registerMigration("v4 reconciliation", migrate: createReconciliationTables)
    migrator.registerMigration("v5 held reconciliation sweeps", migrate: addHeldSweeps)
    migrator.registerMigration("v6 commands", migrate: createCommands)
    migrator.registerMigration("v7 outputs", migrate: createOutputs)
    migrator.registerMigration("v8 fix sessions", migrate: createFIXSessions)
    migrator.registerMigration("v9 gateway tables", migrate: createGatewayTables)
    return migrator
  }

  /// `gaps.refused_events`: events the plugin's journal refused while full (an
  /// overflow gap's count of events that never had sequence numbers); NULL otherwise.
  static func addGapRefusedEvents(_ db: Database) throws {
    try db.execute(sql: "ALTER TABLE gaps ADD COLUMN refused_events INTEGER")
  }

  // Shipped: never edit. Change the schema with a new migration.
  static func createLedgerTables(_ db: Database) throws {
    try db.execute(sql: """
      CREATE TABLE servers (
        id                    INTEGER PRIMARY KEY NOT NULL,
        name                  TEXT,
        platform              INTEGER,
        utc_offset_minutes    INTEGER,
        last_seq              INTEGER NOT NULL DEFAULT 0,
        first_connected_utc   TEXT,
        last_connected_utc    TEXT,
        last_disconnected_utc TEXT
      ) STRICT;

      CREATE TABLE accounts (
        server_id           INTEGER NOT NULL REFERENCES servers(id),
        login               INTEGER NOT NULL,
        "group"             TEXT NOT NULL DEFAULT '',
        name                TEXT NOT NULL DEFAULT '',
        email               TEXT NOT NULL DEFAULT '',
        country             TEXT NOT NULL DEFAULT '',
        currency            TEXT NOT NULL DEFAULT '',
        currency_digits     INTEGER,
        balance             TEXT NOT NULL DEFAULT '0',
        credit              TEXT NOT NULL DEFAULT '0',
        margin_mode         INTEGER,
        leverage            INTEGER,
        comment             TEXT NOT NULL DEFAULT '',
        registration_msc    INTEGER,
        registration_utc    TEXT,
        last_update_msc     INTEGER,
        last_update_utc     TEXT,
        deleted             INTEGER NOT NULL DEFAULT 0,
        updated_seq         INTEGER NOT NULL,
        PRIMARY KEY (server_id, login)
      ) STRICT;

      CREATE TABLE deals (
        server_id        INTEGER NOT NULL REFERENCES servers(id),
        deal             INTEGER NOT NULL,
        external_id      TEXT NOT NULL DEFAULT '',
        login            INTEGER NOT NULL,
        "order"          INTEGER NOT NULL,
        position_id      INTEGER NOT NULL,
        action           INTEGER NOT NULL,
        entry            INTEGER NOT NULL,
        reason           INTEGER NOT NULL,
        symbol           TEXT NOT NULL DEFAULT '',
        digits           INTEGER NOT NULL,
        currency_digits  INTEGER NOT NULL,
        time_msc         INTEGER NOT NULL,
        time_utc         TEXT NOT NULL,
        price            TEXT NOT NULL,
        volume_ext       INTEGER NOT NULL,
        contract_size    TEXT NOT NULL,
        profit           TEXT NOT NULL,
        commission       TEXT NOT NULL,
        storage          TEXT NOT NULL,
        fee              TEXT NOT NULL,
        comment          TEXT NOT NULL DEFAULT '',
        deleted          INTEGER NOT NULL DEFAULT 0,
        updated_seq      INTEGER NOT NULL,
        UNIQUE (server_id, deal)
      ) STRICT;
      CREATE INDEX deals_by_login ON deals(server_id, login, time_msc);

      CREATE TABLE orders (
        server_id           INTEGER NOT NULL REFERENCES servers(id),
        "order"             INTEGER NOT NULL,
        external_id         TEXT NOT NULL DEFAULT '',
        login               INTEGER NOT NULL,
        symbol              TEXT NOT NULL DEFAULT '',
        type                INTEGER NOT NULL,
        state               INTEGER NOT NULL,
        reason              INTEGER NOT NULL,
        digits              INTEGER NOT NULL,
        price_order         TEXT NOT NULL,
        price_sl            TEXT NOT NULL,
        price_tp            TEXT NOT NULL,
        volume_initial_ext  INTEGER NOT NULL,
        volume_current_ext  INTEGER NOT NULL,
        position_id         INTEGER NOT NULL,
        time_setup_msc      INTEGER NOT NULL,
        time_setup_utc      TEXT NOT NULL,
        time_done_msc       INTEGER NOT NULL,
        time_done_utc       TEXT,
        comment             TEXT NOT NULL DEFAULT '',
        in_history          INTEGER NOT NULL DEFAULT 0,
        updated_seq         INTEGER NOT NULL,
        UNIQUE (server_id, "order")
      ) STRICT;

      CREATE TABLE positions (
        server_id        INTEGER NOT NULL REFERENCES servers(id),
        position         INTEGER NOT NULL,
        login            INTEGER NOT NULL,
        symbol           TEXT NOT NULL DEFAULT '',
        action           INTEGER NOT NULL,
        digits           INTEGER NOT NULL,
        volume_ext       INTEGER NOT NULL,
        price_open       TEXT NOT NULL,
        price_current    TEXT NOT NULL,
        profit           TEXT NOT NULL,
        storage          TEXT NOT NULL,
        time_create_msc  INTEGER NOT NULL,
        time_create_utc  TEXT NOT NULL,
        time_update_msc  INTEGER NOT NULL,
        time_update_utc  TEXT NOT NULL,
        comment          TEXT NOT NULL DEFAULT '',
        updated_seq      INTEGER NOT NULL,
        UNIQUE (server_id, position)
      ) STRICT;
      CREATE INDEX positions_by_login ON positions(server_id, login);

      -- Positions closed (deleted) and the seq that closed them, so that an older
      -- add or update replayed later cannot reopen a closed position.
      CREATE TABLE position_closures (
        server_id   INTEGER NOT NULL,
        position    INTEGER NOT NULL,
        closed_seq  INTEGER NOT NULL,
        PRIMARY KEY (server_id, position)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE trades (
        server_id        INTEGER NOT NULL REFERENCES servers(id),
        ticket           INTEGER NOT NULL,
        login            INTEGER NOT NULL,
        symbol           TEXT NOT NULL DEFAULT '',
        digits           INTEGER NOT NULL,
        cmd              INTEGER NOT NULL,
        volume           INTEGER NOT NULL,
        open_time        INTEGER NOT NULL,
        open_time_utc    TEXT NOT NULL,
        state            INTEGER NOT NULL,
        open_price       TEXT NOT NULL,
        sl               TEXT NOT NULL,
        tp               TEXT NOT NULL,
        close_time       INTEGER NOT NULL,
        close_time_utc   TEXT,
        close_price      TEXT NOT NULL,
        commission       TEXT NOT NULL,
        storage          TEXT NOT NULL,
        profit           TEXT NOT NULL,
        taxes            TEXT NOT NULL,
        magic            INTEGER NOT NULL,
        comment          TEXT NOT NULL DEFAULT '',
        timestamp        INTEGER NOT NULL,
        is_open          INTEGER NOT NULL,
        deleted          INTEGER NOT NULL DEFAULT 0,
        last_mode        INTEGER NOT NULL,
        updated_seq      INTEGER NOT NULL,
        UNIQUE (server_id, ticket)
      ) STRICT;
      CREATE INDEX trades_by_login ON trades(server_id, login, is_open);

      CREATE TABLE balance_operations (
        server_id        INTEGER NOT NULL REFERENCES servers(id),
        ticket           INTEGER NOT NULL,
        source           TEXT NOT NULL CHECK (source IN ('mt5_deal', 'mt4_trade')),
        login            INTEGER NOT NULL,
        type             TEXT NOT NULL,
        platform_code    INTEGER NOT NULL,
        amount           TEXT NOT NULL,
        time_msc         INTEGER NOT NULL,
        time_utc         TEXT NOT NULL,
        comment          TEXT NOT NULL DEFAULT '',
        deleted          INTEGER NOT NULL DEFAULT 0,
        updated_seq      INTEGER NOT NULL,
        UNIQUE (server_id, ticket)
      ) STRICT;
      CREATE INDEX balance_operations_by_login ON balance_operations(server_id, login, time_msc);

      CREATE TABLE events (
        server_id     INTEGER NOT NULL REFERENCES servers(id),
        seq           INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        time_msc      INTEGER,
        time_utc      TEXT,
        received_utc  TEXT NOT NULL,
        summary       TEXT NOT NULL,
        body          BLOB,
        UNIQUE (server_id, seq)
      ) STRICT;

      CREATE TABLE quarantine (
        id            INTEGER PRIMARY KEY,
        server_id     INTEGER NOT NULL REFERENCES servers(id),
        seq           INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        reason        TEXT NOT NULL,
        body          BLOB NOT NULL,
        received_utc  TEXT NOT NULL,
        resolved      INTEGER NOT NULL DEFAULT 0,
        UNIQUE (server_id, seq)
      ) STRICT;

      CREATE TABLE gaps (
        id             INTEGER PRIMARY KEY,
        server_id      INTEGER NOT NULL REFERENCES servers(id),
        first_seq      INTEGER NOT NULL,
        last_seq       INTEGER NOT NULL,
        reason         TEXT NOT NULL,
        detected_utc   TEXT NOT NULL,
        healed_utc     TEXT,
        UNIQUE (server_id, first_seq, last_seq),
        CHECK (first_seq <= last_seq)
      ) STRICT;
      """)
  }
}
