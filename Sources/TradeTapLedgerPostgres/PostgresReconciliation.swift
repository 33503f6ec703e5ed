import Logging
import PostgresNIO
import TradeTapEvents
import TradeTapLedger

extension PostgresLedger {
  public func reconcile(
    _ snapshot: PlatformSnapshot, caughtUpThrough: UInt64, startedUtc: String?, mode: ReconciliationMode
  ) throws -> ReconciliationOutcome? {
    try blocking {
      try await self.reconcileAsync(snapshot, caughtUpThrough: caughtUpThrough, startedUtc: startedUtc, mode: mode)
    }
  }

  public func reconciliationSweepStatus(id: Int64) throws -> String? {
    try blocking {
      var status: String?? = nil
      for try await value in try await self.client.query(
        "SELECT status FROM reconciliation_sweeps WHERE id = \(id)", logger: self.logger
      ).decode(String.self) where status == nil {
        status = value
      }
      return status ?? nil
    }
  }

  /// The SQLite ledger's reconciliation (`LedgerWriter.reconcile`, docs/reconciliation.md),
  /// rule for rule, in one PostgreSQL transaction: compare on platform ids, record
  /// every divergence, correct through the live projection at the snapshot's point.
  /// nil when the ledger is not yet durable through `caughtUpThrough`.
  public func reconcileAsync(
    _ snapshot: PlatformSnapshot, caughtUpThrough: UInt64, startedUtc: String? = nil,
    mode: ReconciliationMode = .sweep(limit: nil)
  ) async throws -> ReconciliationOutcome? {
    let now = UTCTime.now()
    let logger = self.logger
    return try await client.withTransaction(logger: logger) { connection -> ReconciliationOutcome? in
      try await Self.lockWriter(connection, logger: logger)
      let server = Int64(snapshot.serverId)
      var sweep = PostgresReconciliationSweep(
        server: server, serverId: snapshot.serverId, sequence: caughtUpThrough,
        projection: PostgresProjection(connection: connection, logger: logger, receivedUtc: now, correcting: true))
      try await sweep.projection.run(
        "INSERT INTO servers (id, utc_offset_minutes) VALUES (\(server), \(Int64(0))) ON CONFLICT DO NOTHING")
      if case .applyHeld(let id) = mode {
        var status: String?? = nil
        for try await value in try await connection.query(
          "SELECT status FROM reconciliation_sweeps WHERE id = \(id) AND server_id = \(server)", logger: logger
        ).decode(String.self) where status == nil {
          status = value
        }
        guard let found = status ?? nil else { throw HeldSweepError.unknownSweep(id) }
        guard found == ReconciliationStatus.held else { throw HeldSweepError.notHeld(id, status: found) }
      }
      let durable = UInt64(max(0, try await sweep.projection.int("SELECT last_seq FROM servers WHERE id = \(server)") ?? 0))
      guard durable >= caughtUpThrough else { return nil }
      // Corrections are guarded upserts keyed on platform ids: one statement per table
      // at the end of the comparison leaves what writing them one by one would (each
      // scope reads its rows before it corrects any).
      sweep.projection.deferWrites(server: server)
      func point(_ scope: UInt64?) -> UInt64 { min(scope ?? caughtUpThrough, caughtUpThrough) }
      // A sweep over its deletion limit rolls its corrections back to here and keeps
      // only the record of what it found.
      try await sweep.projection.run("SAVEPOINT reconciliation_compare")
      if let accounts = snapshot.accounts {
        sweep.sequence = point(snapshot.accountsThrough)
        try await sweep.compareAccounts(accounts)
      }
      if let positions = snapshot.positions {
        sweep.sequence = point(snapshot.positionsThrough)
        try await sweep.comparePositions(positions)
      }
      if let deals = snapshot.deals {
        sweep.sequence = point(snapshot.dealsThrough)
        try await sweep.compareDeals(deals, window: snapshot.dealWindow)
        try await sweep.compareCommandMarks(.deal, deals.map { (Int64(truncatingIfNeeded: $0.deal), $0.comment) })
      }
      if let trades = snapshot.trades {
        sweep.sequence = point(snapshot.tradesThrough)
        try await sweep.compareTrades(trades)
        try await sweep.compareCommandMarks(.trade, trades.map { (Int64($0.ticket), $0.comment) })
      }
      let healedThrough = [snapshot.accountsThrough, snapshot.positionsThrough, snapshot.dealsThrough,
                           snapshot.tradesThrough].compactMap { $0 }.min().map(point) ?? caughtUpThrough
      var outcome = sweep.outcome
      outcome.durableSequence = durable
      outcome.deletions = outcome.destructiveRows
      if case .sweep(let limit?) = mode {
        outcome.deletionLimit = limit.threshold(ledgerRows: outcome.ledgerRowsCompared)
        outcome.held = outcome.deletions > outcome.deletionLimit
      }
      // Held: the deletions are never written, the deferred corrections never flushed.
      if outcome.held {
        try await sweep.projection.run("ROLLBACK TO SAVEPOINT reconciliation_compare")
      } else {
        for deletion in sweep.deletions { try await sweep.projection.run(deletion) }
        try await sweep.projection.flushDeferred()
        try await sweep.projection.run("RELEASE SAVEPOINT reconciliation_compare")
      }
      let appliedUtc: String? = outcome.held ? nil : now
      let status = outcome.held ? ReconciliationStatus.held : ReconciliationStatus.applied
      switch mode {
      case .applyHeld(let id):
        try await sweep.projection.run(
          "UPDATE reconciliation_sweeps SET status = 'applied', applied_utc = \(now) WHERE id = \(id)")
        outcome.sweepId = id
      case .sweep:
        let from = snapshot.deals == nil ? nil : snapshot.dealWindow.lowerBound
        let to = snapshot.deals == nil ? nil : snapshot.dealWindow.upperBound
        let limit = outcome.deletionLimit == Int.max ? nil : Int64(outcome.deletionLimit)
        outcome.sweepId = try await sweep.projection.int("""
          INSERT INTO reconciliation_sweeps (server_id, started_utc, finished_utc, snapshot_seq, deal_window_from_msc,
            deal_window_to_msc, accounts_compared, positions_compared, deals_compared, trades_compared, divergences,
            status, applied_utc, deletions, deletion_limit, ledger_rows_compared)
          VALUES (\(server), \(startedUtc ?? now), \(now), \(Int64(truncatingIfNeeded: caughtUpThrough)), \(from), \(to),
            \(Int64(outcome.accountsCompared)), \(Int64(outcome.positionsCompared)), \(Int64(outcome.dealsCompared)),
            \(Int64(outcome.tradesCompared)), \(Int64(outcome.divergences.count)), \(status),
            \(appliedUtc), \(Int64(outcome.deletions)), \(limit), \(Int64(outcome.ledgerRowsCompared)))
          RETURNING id
          """) ?? 0
        // A newer comparison of the server makes every older held one stale.
        try await sweep.projection.run("""
          UPDATE reconciliation_sweeps SET status = 'superseded'
           WHERE server_id = \(server) AND status = 'held' AND id < \(outcome.sweepId)
          """)
      }
      for d in outcome.divergences {
        try await sweep.projection.run("""
          INSERT INTO reconciliation_divergences (sweep_id, server_id, subject, "key", field, ledger_value,
            platform_value, correction, detected_utc, status)
          VALUES (\(outcome.sweepId), \(server), \(d.subject.rawValue), \(d.key), \(d.field), \(d.ledgerValue),
            \(d.platformValue), \(d.correction.rawValue), \(now), \(status))
          """)
      }
      // Held: nothing was corrected, so nothing is healed and the server is not reconciled.
      if outcome.held { return outcome }
      // Whatever the stream lost up to here is now corrected from the platform.
      outcome.gapsHealed = try await sweep.projection.run("""
        UPDATE gaps SET healed_utc = \(now) WHERE server_id = \(server) AND healed_utc IS NULL
          AND last_seq <= \(Int64(truncatingIfNeeded: healedThrough)) RETURNING id
        """)
      try await sweep.projection.run("UPDATE servers SET last_reconciled_utc = \(now) WHERE id = \(server)")
      return outcome
    }
  }
}

/// One sweep's comparison inside the transaction (the SQLite ledger's
/// `ReconciliationSweep`, on ``LedgerRecord``s read from PostgreSQL).
struct PostgresReconciliationSweep {
  let server: Int64
  let serverId: UInt32
  /// The snapshot's point in the stream: `updated_seq` of every correction.
  var sequence: UInt64
  var projection: PostgresProjection
  var outcome = ReconciliationOutcome(sweepId: 0, durableSequence: 0)
  /// Rows to mark deleted or remove, run only once the sweep is known not to be held.
  var deletions: [PostgresQuery] = []


  private mutating func record(
    _ subject: LedgerDivergence.Subject, _ key: Int64, _ field: String, _ ledger: String?, _ platform: String?,
    _ correction: LedgerDivergence.Correction
  ) {
    outcome.divergences.append(LedgerDivergence(
      subject: subject, key: key, field: field, ledgerValue: ledger, platformValue: platform, correction: correction))
  }

  private mutating func correct(
    _ subject: LedgerDivergence.Subject, _ key: Int64, exists: Bool, check: LedgerFieldCheck, kind: RecordKind,
    body: EventBody
  ) async throws {
    if !exists {
      record(subject, key, "missing", nil, "present", .inserted)
    } else if check.fields.isEmpty {
      return
    } else {
      for (field, ledger, platform) in check.fields { record(subject, key, field, ledger, platform, .updated) }
    }
    try await projection.project(Event(
      serverId: serverId, sequence: sequence, kind: kind, hookTimestampNanos: 0, utcOffsetMinutes: 0, body: body))
  }

  private func isNewer(_ row: LedgerRecord) -> Bool {
    (row.integer("updated_seq") ?? 0) > Int64(truncatingIfNeeded: sequence)
  }

  private func rows(_ query: PostgresQuery, key: String) async throws -> [Int64: LedgerRecord] {
    var rows: [Int64: LedgerRecord] = [:]
    for try await row in try await projection.connection.query(query, logger: projection.logger) {
      let record = try LedgerRecord(postgres: row)
      if let id = record.integer(key) { rows[id] = record }
    }
    return rows
  }

  // MARK: Accounts

  mutating func compareAccounts(_ accounts: [User]) async throws {
    var rows = try await rows(
      #"SELECT login, "group", balance, credit, deleted, updated_seq FROM accounts WHERE server_id = \#(server)"#,
      key: "login")
    outcome.ledgerRowsCompared += rows.count
    for user in accounts {
      let key = Int64(truncatingIfNeeded: user.login)
      let row = rows.removeValue(forKey: key)
      if let row, isNewer(row) { continue }
      let check = ReconciliationRules.account(row, user)
      try await correct(.account, key, exists: row != nil, check: check, kind: .userUpdate, body: .user(user))
    }
    outcome.accountsCompared = accounts.count
    for (login, row) in rows where row.integer("deleted") == 0 && !isNewer(row) {
      record(.account, login, "unexpected", "present", nil, .markedDeleted)
      deletions.append("UPDATE accounts SET deleted = 1 WHERE server_id = \(server) AND login = \(login)")
    }
  }

  // MARK: MT5 positions

  mutating func comparePositions(_ positions: [Position]) async throws {
    var rows = try await rows("""
      SELECT position, login, symbol, action, volume_ext, price_open, storage, updated_seq FROM positions
      WHERE server_id = \(server)
      """, key: "position")
    outcome.ledgerRowsCompared += rows.count
    for p in positions {
      let key = Int64(truncatingIfNeeded: p.position)
      let row = rows.removeValue(forKey: key)
      if let row, isNewer(row) { continue }
      // Closed by an event after the snapshot: the snapshot's "open" is older.
      if row == nil,
        let closed = try await projection.int(
          "SELECT closed_seq FROM position_closures WHERE server_id = \(server) AND position = \(key)"),
        closed > Int64(truncatingIfNeeded: sequence)
      {
        continue
      }
      let check = ReconciliationRules.position(row, p)
      try await correct(.position, key, exists: row != nil, check: check, kind: .positionUpdate, body: .position(p))
    }
    outcome.positionsCompared = positions.count
    for (position, row) in rows where !isNewer(row) {
      record(.position, position, "unexpected", "open", nil, .removed)
      deletions.append("DELETE FROM positions WHERE server_id = \(server) AND position = \(position)")
    }
  }

  // MARK: MT5 deals

  static let dealColumns = """
    SELECT deal, login, "order", position_id, action, entry, symbol, price, volume_ext, profit, commission,
           storage, fee, time_msc, comment, deleted, updated_seq FROM deals
    """

  mutating func compareDeals(_ deals: [Deal], window: Range<Int64>) async throws {
    var rows = try await rows("""
      \(unescaped: Self.dealColumns) WHERE server_id = \(server) AND time_msc >= \(window.lowerBound)
        AND time_msc < \(window.upperBound)
      """, key: "deal")
    outcome.ledgerRowsCompared += rows.count
    for d in deals {
      let key = Int64(truncatingIfNeeded: d.deal)
      // A deal the ledger holds outside the window (its time changed) is still this deal.
      var row = rows.removeValue(forKey: key)
      if row == nil {
        row = try await self.rows(
          "\(unescaped: Self.dealColumns) WHERE server_id = \(server) AND deal = \(key)", key: "deal")[key]
      }
      if let row, isNewer(row) { continue }
      let check = ReconciliationRules.deal(row, d)
      try await correct(.deal, key, exists: row != nil, check: check, kind: .dealUpdate, body: .deal(d))
    }
    outcome.dealsCompared = deals.count
    for (deal, row) in rows where row.integer("deleted") == 0 && !isNewer(row) {
      record(.deal, deal, "unexpected", "present", nil, .markedDeleted)
      deletions.append("UPDATE deals SET deleted = 1 WHERE server_id = \(server) AND deal = \(deal)")
      deletions.append("""
        UPDATE balance_operations SET deleted = 1 WHERE server_id = \(server) AND ticket = \(deal) AND source = 'mt5_deal'
        """)
    }
  }

  // MARK: CRM commands

  /// Marked records against their commands (``CommandMarks``), and every done money
  /// command's record: reported, never corrected.
  mutating func compareCommandMarks(_ subject: LedgerDivergence.Subject, _ records: [(key: Int64, comment: String)]) async throws {
    var commands: [UInt64: CommandMarks.Command] = [:]
    for record in records {
      guard let id = CommandMarker.commandId(in: record.comment), commands[id] == nil else { continue }
      let found = try await rows("""
        SELECT id, status, deal FROM commands WHERE id = \(Int64(bitPattern: id)) AND server_id = \(server)
        """, key: "id")
      guard let row = found.values.first, let status = row.text("status").flatMap(CommandStatus.init(rawValue:)) else { continue }
      commands[id] = CommandMarks.Command(status: status, deal: row.integer("deal").map { UInt64(bitPattern: $0) })
    }
    outcome.divergences += CommandMarks.divergences(subject: subject, records: records, commands: commands)
    let onPlatform = Set(records.map(\.key))
    let missing = try await rows(subject == .trade ? """
      SELECT c.id, c.deal FROM commands c WHERE c.server_id = \(server) AND c.status = 'done'
        AND c.kind = 'balance_operation' AND c.deal IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM trades t WHERE t.server_id = c.server_id AND t.ticket = c.deal AND t.deleted = 0)
      """ : """
      SELECT c.id, c.deal FROM commands c WHERE c.server_id = \(server) AND c.status = 'done'
        AND c.kind = 'balance_operation' AND c.deal IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM deals t WHERE t.server_id = c.server_id AND t.deal = c.deal AND t.deleted = 0)
      """, key: "id")
    for (id, row) in missing.sorted(by: { $0.key < $1.key }) {
      guard let deal = row.integer("deal"), !onPlatform.contains(deal) else { continue }
      outcome.divergences.append(CommandMarks.missingRecord(commandId: id, deal: deal))
    }
  }

  // MARK: MT4 trades

  mutating func compareTrades(_ trades: [Trade]) async throws {
    var rows = try await rows("""
      SELECT ticket, login, symbol, cmd, volume, open_price, close_price, close_time, sl, tp, commission, storage,
             profit, comment, is_open, deleted, updated_seq
      FROM trades WHERE server_id = \(server)
      """, key: "ticket")
    outcome.ledgerRowsCompared += rows.count
    for t in trades {
      let key = Int64(t.ticket)
      let row = rows.removeValue(forKey: key)
      if let row, isNewer(row) { continue }
      let check = ReconciliationRules.trade(row, t)
      try await correct(.trade, key, exists: row != nil, check: check, kind: .tradeSnapshot, body: .trade(t))
    }
    outcome.tradesCompared = trades.count
    for (ticket, row) in rows where row.integer("deleted") == 0 && !isNewer(row) {
      record(.trade, ticket, "unexpected", "present", nil, .markedDeleted)
      deletions.append("UPDATE trades SET deleted = 1, is_open = 0 WHERE server_id = \(server) AND ticket = \(ticket)")
      deletions.append("""
        UPDATE balance_operations SET deleted = 1 WHERE server_id = \(server) AND ticket = \(ticket) AND source = 'mt4_trade'
        """)
    }
  }
}
