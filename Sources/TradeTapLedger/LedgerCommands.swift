import GRDB
import TradeTapEvents

extension LedgerSchema {
  /// Migration `v6 commands`: CRM commands (docs/commands.md) and their audit.
  ///
  /// - `commands`: one row per command. `id` is `AUTOINCREMENT`, so an id is never
  ///   handed out twice even after rows are removed (it is the `TT#<id>` marker the
  ///   platform's deal carries). `idempotency_key` is UNIQUE: two submissions with
  ///   one key cannot both insert. `request` is the canonical JSON of the command
  ///   (``LedgerCommandCodec/requestJSON(_:)``); `type` and `amount` (exact decimal
  ///   TEXT) repeat a money movement's for SQL. `deal` (money) or `result_login`
  ///   (account) is what a done command made; `reason` and `host_result` why it was
  ///   rejected (or why it is unknown). `sent_count`: hand-overs to the plugin.
  /// - `command_audit`: one row per command: key, body hash, token id (never the
  ///   token), created and finished times, and the result text.
  /// - `changes.command_id`: a change that is a command becoming final (seq 0, no event).
  static func createCommands(_ db: Database) throws {
    try db.execute(sql: """
      CREATE TABLE commands (
        id               INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
        server_id        INTEGER NOT NULL REFERENCES servers(id),
        kind             TEXT NOT NULL CHECK (kind IN ('open_account', 'balance_operation')),
        login            INTEGER NOT NULL,
        type             TEXT,
        amount           TEXT,
        idempotency_key  TEXT NOT NULL UNIQUE,
        body_hash        TEXT NOT NULL,
        token_id         TEXT NOT NULL,
        request          TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'done', 'rejected', 'unknown')),
        deal             INTEGER,
        result_login     INTEGER,
        reason           TEXT,
        host_result      INTEGER,
        created_utc      TEXT NOT NULL,
        updated_utc      TEXT NOT NULL,
        sent_count       INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX commands_by_server_status ON commands (server_id, status, id);
      CREATE TABLE command_audit (
        command_id       INTEGER PRIMARY KEY NOT NULL REFERENCES commands(id),
        idempotency_key  TEXT NOT NULL,
        body_hash        TEXT NOT NULL,
        token_id         TEXT NOT NULL,
        created_utc      TEXT NOT NULL,
        finished_utc     TEXT,
        result           TEXT
      ) STRICT;
      ALTER TABLE changes ADD COLUMN command_id INTEGER REFERENCES commands(id);
      """)
  }
}

/// The SQLite ledger's commands (``LedgerStore``'s `Commands` section): every write
/// on GRDB's single writer through its async API (a durable commit, `synchronous`
/// as configured, without blocking the caller's thread), reads on the reader pool.
extension Ledger {
  public func submitCommand(_ submission: CommandSubmission) async throws -> CommandAdmission {
    let request = submission.request
    let now = UTCTime.now()
    return try await pool.write { db in
      // The writer is single: no other submission runs between this read and the
      // insert; the UNIQUE key would refuse a second row anyway.
      if let existing = try Self.command(db, " WHERE idempotency_key = ?", [submission.idempotencyKey]) {
        return existing.bodyHash == submission.bodyHash ? .repeated(existing) : .conflict(existing)
      }
      try db.execute(
        sql: """
          INSERT INTO commands (server_id, kind, login, type, amount, idempotency_key, body_hash, token_id, request,
                                status, created_utc, updated_utc)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
          """,
        arguments: [
          Int64(submission.serverId), LedgerCommandCodec.kind(request), Int64(bitPattern: request.login),
          LedgerCommandCodec.type(request), LedgerCommandCodec.amount(request), submission.idempotencyKey,
          submission.bodyHash, submission.tokenId, LedgerCommandCodec.requestJSON(request), now, now,
        ])
      let id = db.lastInsertedRowID
      try db.execute(
        sql: """
          INSERT INTO command_audit (command_id, idempotency_key, body_hash, token_id, created_utc)
          VALUES (?, ?, ?, ?, ?)
          """,
        arguments: [id, submission.idempotencyKey, submission.bodyHash, submission.tokenId, now])
      guard let command = try Self.command(db, " WHERE id = ?", [id]) else { throw LedgerCommandCodec.Malformed("lost command \(id)") }
      return .accepted(command)
    }
  }

  public func command(id: Int64) async throws -> LedgerCommand? {
    try await pool.read { db in try Self.command(db, " WHERE id = ?", [id]) }
  }

  public func command(idempotencyKey: String) async throws -> LedgerCommand? {
    try await pool.read { db in try Self.command(db, " WHERE idempotency_key = ?", [idempotencyKey]) }
  }

  public func unfinishedCommands(serverId: UInt32, limit: Int) async throws -> [LedgerCommand] {
    try await pool.read { db in
      try Row.fetchAll(
        db, sql: LedgerCommandCodec.select
          + " WHERE server_id = ? AND status IN ('pending', 'sent', 'unknown') ORDER BY id LIMIT ?",
        arguments: [Int64(serverId), max(0, limit)]
      ).map { try LedgerCommandCodec.command(LedgerRecord(row: $0)) }
    }
  }

  public func markCommandsSent(ids: [Int64]) async throws {
    guard !ids.isEmpty else { return }
    let now = UTCTime.now()
    try await pool.write { db in
      for id in ids {
        try db.execute(
          sql: """
            UPDATE commands SET sent_count = sent_count + 1,
              status = CASE status WHEN 'pending' THEN 'sent' ELSE status END,
              updated_utc = CASE status WHEN 'pending' THEN ? ELSE updated_utc END
            WHERE id = ? AND status IN ('pending', 'sent', 'unknown')
            """, arguments: [now, id])
      }
    }
  }

  public func finishCommand(id: Int64, serverId: UInt32, outcome: CommandOutcome) async throws -> LedgerCommand? {
    let now = UTCTime.now()
    return try await pool.write { db in
      guard let command = try Self.command(db, " WHERE id = ? AND server_id = ?", [id, Int64(serverId)]) else {
        return nil
      }
      if command.status.isFinal { return command }
      guard let final = LedgerCommandCodec.final(outcome, of: command) else {
        guard case .unknown(let reason) = outcome else { return command }
        try db.execute(
          sql: "UPDATE commands SET status = 'unknown', reason = ?, updated_utc = ? WHERE id = ?",
          arguments: [reason, now, id])
        return try Self.command(db, " WHERE id = ?", [id])
      }
      try db.execute(
        sql: """
          UPDATE commands SET status = ?, deal = ?, result_login = ?, reason = ?, host_result = ?, updated_utc = ?
          WHERE id = ?
          """,
        arguments: [final.status.rawValue, final.deal, final.resultLogin, final.reason, final.hostResult, now, id])
      try db.execute(
        sql: "UPDATE command_audit SET finished_utc = ?, result = ? WHERE command_id = ?",
        arguments: [now, final.auditResult, id])
      try db.execute(
        sql: "INSERT INTO changes (server_id, seq, command_id) VALUES (?, 0, ?)", arguments: [Int64(serverId), id])
      return try Self.command(db, " WHERE id = ?", [id])
    }
  }

  static func command(_ db: Database, _ filter: String, _ arguments: StatementArguments) throws -> LedgerCommand? {
    try Row.fetchOne(db, sql: LedgerCommandCodec.select + filter, arguments: arguments)
      .map { try LedgerCommandCodec.command(LedgerRecord(row: $0)) }
  }
}
