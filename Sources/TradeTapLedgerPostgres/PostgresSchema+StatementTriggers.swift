extension PostgresSchema {
  /// The tables the event stream writes, batch by batch (their `server_id → servers.id`
  /// is checked once per statement, see ``pgStatementTriggers``).
  static let streamTables = ["events", "accounts", "deals", "orders", "positions", "trades", "balance_operations"]

  /// PostgreSQL only (no SQLite twin; SQLite's schema is unchanged): the same rules,
  /// checked once per statement instead of once per row (issue 12, docs/ledger.md
  /// "PostgreSQL: per-statement triggers"). Profiled on a 40,000-event commit, the
  /// row-level work was most of the server's time: the plpgsql `changes_append` row
  /// trigger and the foreign keys' RI checks (one SPI query per inserted row for
  /// `events` and again for `deals`).
  ///
  /// - `changes_append` becomes a statement-level trigger over the transition table
  ///   of rows actually inserted (a duplicate skipped by `ON CONFLICT DO NOTHING` is
  ///   not in it, as it never fired the row trigger): one `INSERT ... SELECT` per
  ///   statement, in `(server_id, seq)` order, which is the order the writer inserts
  ///   (one server per statement, sequence order), so ids still increase in commit
  ///   order under the writer's advisory lock.
  /// - `server_id REFERENCES servers(id)` on the stream's tables becomes the same rule
  ///   enforced by triggers, with the same error class (`foreign_key_violation`,
  ///   SQLSTATE 23503): after each INSERT statement, every `server_id` written must be
  ///   a server, locked `FOR KEY SHARE` as the RI check locks it (a concurrent delete
  ///   waits for the writer); an UPDATE that changes `server_id` is checked per row;
  ///   deleting a server, changing its id or truncating `servers` is refused while a
  ///   stream table still has its rows. The other tables keep their foreign keys.
  static let pgStatementTriggers: [String] = [
    "DROP TRIGGER changes_append ON events",
    "DROP FUNCTION changes_append()",
    """
    CREATE FUNCTION changes_append() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO changes (server_id, seq) SELECT server_id, seq FROM appended ORDER BY server_id, seq;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER changes_append AFTER INSERT ON events REFERENCING NEW TABLE AS appended
      FOR EACH STATEMENT EXECUTE FUNCTION changes_append()
    """,
    """
    CREATE FUNCTION ledger_server_check_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE missing BIGINT;
    BEGIN
      PERFORM 1 FROM servers s WHERE s.id IN (SELECT w.server_id FROM written w) FOR KEY SHARE OF s;
      SELECT w.server_id INTO missing FROM written w
        WHERE NOT EXISTS (SELECT 1 FROM servers s WHERE s.id = w.server_id) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key "%_server_id_fkey"', TG_TABLE_NAME, TG_TABLE_NAME
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (server_id)=(%s) is not present in table "servers".', missing);
      END IF;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION ledger_server_check_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM servers s WHERE s.id = NEW.server_id FOR KEY SHARE OF s;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key "%_server_id_fkey"', TG_TABLE_NAME, TG_TABLE_NAME
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (server_id)=(%s) is not present in table "servers".', NEW.server_id);
      END IF;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION ledger_server_still_referenced(server BIGINT) RETURNS TEXT LANGUAGE plpgsql AS $$
    DECLARE t TEXT; found_one BOOLEAN;
    BEGIN
      FOREACH t IN ARRAY ARRAY['\(streamTables.joined(separator: "', '"))'] LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE server_id = $1)', t) INTO found_one USING server;
        IF found_one THEN RETURN t; END IF;
      END LOOP;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION ledger_server_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE t TEXT;
    BEGIN
      t := ledger_server_still_referenced(OLD.id);
      IF t IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "servers" violates foreign key "%_server_id_fkey" on table "%"', t, t
          USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', OLD.id, t);
      END IF;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION ledger_server_keep_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE t TEXT; found_one BOOLEAN;
    BEGIN
      FOREACH t IN ARRAY ARRAY['\(streamTables.joined(separator: "', '"))'] LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', t) INTO found_one;
        IF found_one THEN
          RAISE EXCEPTION 'cannot truncate table "servers": table "%" references it', t
            USING ERRCODE = 'feature_not_supported';
        END IF;
      END LOOP;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER servers_keep_referenced_delete AFTER DELETE ON servers
      FOR EACH ROW EXECUTE FUNCTION ledger_server_keep_referenced()
    """,
    """
    CREATE TRIGGER servers_keep_referenced_update AFTER UPDATE OF id ON servers
      FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ledger_server_keep_referenced()
    """,
    """
    CREATE TRIGGER servers_keep_referenced_truncate BEFORE TRUNCATE ON servers
      FOR EACH STATEMENT EXECUTE FUNCTION ledger_server_keep_truncate()
    """,
  ] + streamTables.flatMap { table in
    [
      // The foreign key this replaces, by its catalog entry (not by a guessed name).
      """
      DO $$ DECLARE c TEXT; BEGIN
        FOR c IN SELECT conname FROM pg_constraint
          WHERE conrelid = '\(table)'::regclass AND confrelid = 'servers'::regclass AND contype = 'f'
        LOOP EXECUTE format('ALTER TABLE \(table) DROP CONSTRAINT %I', c); END LOOP;
      END $$
      """,
      """
      CREATE TRIGGER \(table)_server_insert AFTER INSERT ON \(table) REFERENCING NEW TABLE AS written
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_server_check_rows()
      """,
      """
      CREATE TRIGGER \(table)_server_update AFTER UPDATE OF server_id ON \(table)
        FOR EACH ROW WHEN (OLD.server_id IS DISTINCT FROM NEW.server_id) EXECUTE FUNCTION ledger_server_check_row()
      """,
    ]
  }

  /// The statement-level server check in one pass over the rows written: their
  /// lowest and highest `server_id`; one server (every statement of the writer) is
  /// one primary-key lookup, locked `FOR KEY SHARE`. Several servers take the
  /// general check. Same rule and error as ``pgStatementTriggers``.
  static let pgServerCheckInOneScan: [String] = [
    """
    CREATE OR REPLACE FUNCTION ledger_server_check_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE low BIGINT; high BIGINT; missing BIGINT;
    BEGIN
      SELECT min(w.server_id), max(w.server_id) INTO low, high FROM written w;
      IF low IS NULL THEN
        RETURN NULL;
      END IF;
      IF low = high THEN
        PERFORM 1 FROM servers s WHERE s.id = low FOR KEY SHARE OF s;
        IF FOUND THEN
          RETURN NULL;
        END IF;
        missing := low;
      ELSE
        PERFORM 1 FROM servers s WHERE s.id IN (SELECT w.server_id FROM written w) FOR KEY SHARE OF s;
        SELECT w.server_id INTO missing FROM written w
          WHERE NOT EXISTS (SELECT 1 FROM servers s WHERE s.id = w.server_id) LIMIT 1;
        IF NOT FOUND THEN
          RETURN NULL;
        END IF;
      END IF;
      RAISE EXCEPTION 'insert or update on table "%" violates foreign key "%_server_id_fkey"', TG_TABLE_NAME, TG_TABLE_NAME
        USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (server_id)=(%s) is not present in table "servers".', missing);
    END
    $$
    """,
  ]
}
