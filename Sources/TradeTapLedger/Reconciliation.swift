import Foundation
import GRDB
import TradeTapEvents

/// What the platform said in one reconciliation sweep of one server (the
/// snapshot records, normalised by the plugin). A `nil` scope is not compared.
public struct PlatformSnapshot: Sendable {
  public var serverId: UInt32
  /// Every account (`users_enum`), after the plugin's `Groups` filter.
  public var accounts: [User]?
  /// MT5 open positions.
  public var positions: [Position]?
  /// MT5 deals with `dealWindow.lowerBound <= time_msc < dealWindow.upperBound` (broker time).
  public var deals: [Deal]?
  public var dealWindow: Range<Int64>
  /// MT4 trade records, open and history.
  public var trades: [Trade]?
  /// Per scope, the stream point its records correspond to, when the scopes were
  /// taken at different moments (nil: `caughtUpThrough` of `reconcile`). Each scope
  /// is compared, and corrected, at its own point.
  public var accountsThrough: UInt64?
  public var positionsThrough: UInt64?
  public var dealsThrough: UInt64?
  public var tradesThrough: UInt64?

  public init(
    serverId: UInt32, accounts: [User]? = nil, positions: [Position]? = nil, deals: [Deal]? = nil,
    dealWindow: Range<Int64> = 0..<Int64.max, trades: [Trade]? = nil
  ) {
    self.serverId = serverId
    self.accounts = accounts
    self.positions = positions
    self.deals = deals
    self.dealWindow = dealWindow
    self.trades = trades
  }
}

/// The result of one sweep of one server.
public struct ReconciliationOutcome: Sendable {
  /// `reconciliation_sweeps.id`.
  public var sweepId: Int64
  /// The server's durable sequence when the comparison ran (≥ every scope's point).
  public var durableSequence: UInt64
  public var accountsCompared = 0
  public var positionsCompared = 0
  public var dealsCompared = 0
  public var tradesCompared = 0
  public var divergences: [LedgerDivergence] = []
  /// Open gaps at or below the earliest scope point marked healed.
  public var gapsHealed = 0
  /// Ledger rows the comparison read (accounts, positions, deals in the window,
  /// trades): the base of a percentage deletion limit.
  public var ledgerRowsCompared = 0
  /// Rows the sweep deletes or zeroes (``destructiveRows``), and the most it may.
  public var deletions = 0
  public var deletionLimit = Int.max
  /// The deletions exceeded the limit: nothing was corrected, the divergences are
  /// recorded with status `held` (docs/reconciliation.md, "Held sweeps").
  public var held = false

  public init(sweepId: Int64, durableSequence: UInt64) {
    self.sweepId = sweepId
    self.durableSequence = durableSequence
  }
}

extension LedgerWriter {
  /// Compares a platform snapshot with the ledger on platform identifiers, records
  /// every divergence and corrects the ledger (the platform is the truth), in one
  /// transaction (docs/reconciliation.md).
  ///
  /// Corrections are platform records written through the same projection as live
  /// events, keyed on platform ids, with `updated_seq` = `caughtUpThrough` (the
  /// snapshot's point in the stream): a later live event for the same deal, position
  /// or account simply upserts it again (never counted twice), and the sweep is
  /// idempotent. Rows a later event already wrote (`updated_seq > caughtUpThrough`)
  /// are newer than the snapshot and left alone.
  ///
  /// - Parameters:
  ///   - snapshot: the platform's records.
  ///   - caughtUpThrough: the highest sequence the plugin had sent before its
  ///     snapshot; the comparison waits until the ledger holds it.
  ///   - startedUtc: when the sweep asked for the snapshot (for `reconciliation_sweeps`).
  ///   - mode: a sweep with its deletion limit (default: none), or the application of
  ///     a held sweep.
  /// - Returns: nil when the ledger is not yet durable through `caughtUpThrough`
  ///   (nothing written; try again shortly).
  /// - Throws: ``HeldSweepError`` when applying a sweep that is unknown or not held.
  public func reconcile(
    _ snapshot: PlatformSnapshot, caughtUpThrough: UInt64, startedUtc: String? = nil,
    mode: ReconciliationMode = .sweep(limit: nil)
  ) throws -> ReconciliationOutcome? {
    let now = UTCTime.now()
    return try pool.write { db -> ReconciliationOutcome? in
      let server = Int64(snapshot.serverId)
      try db.execute(sql: LedgerStatements.ensureServer, arguments: [server, 0])
      if case .applyHeld(let id) = mode {
        let status = try String.fetchOne(
          db, sql: "SELECT status FROM reconciliation_sweeps WHERE id = ? AND server_id = ?", arguments: [id, server])
        guard let status else { throw HeldSweepError.unknownSweep(id) }
        guard status == ReconciliationStatus.held else { throw HeldSweepError.notHeld(id, status: status) }
      }
      let durable = UInt64(max(0, try Int64.fetchOne(db, sql: LedgerStatements.serverLastSeq, arguments: [server]) ?? 0))
      guard durable >= caughtUpThrough else { return nil }
      var sweep = ReconciliationSweep(
        db: db, server: server, serverId: snapshot.serverId, sequence: caughtUpThrough,
        projection: try LedgerProjection(db: db, receivedUtc: now, correcting: true))
      func point(_ scope: UInt64?) -> UInt64 { min(scope ?? caughtUpThrough, caughtUpThrough) }
      // Compared and corrected inside a savepoint: a sweep over its deletion limit
      // rolls its corrections back and keeps only the record of what it found.
      var held = false
      try db.inSavepoint {
        if let accounts = snapshot.accounts {
          sweep.sequence = point(snapshot.accountsThrough)
          try sweep.compareAccounts(accounts)
        }
        if let positions = snapshot.positions {
          sweep.sequence = point(snapshot.positionsThrough)
          try sweep.comparePositions(positions)
        }
        if let deals = snapshot.deals {
          sweep.sequence = point(snapshot.dealsThrough)
          try sweep.compareDeals(deals, window: snapshot.dealWindow)
          try sweep.compareCommandMarks(.deal, deals.map { (Int64(truncatingIfNeeded: $0.deal), $0.comment) })
        }
        if let trades = snapshot.trades {
          sweep.sequence = point(snapshot.tradesThrough)
          try sweep.compareTrades(trades)
          try sweep.compareCommandMarks(.trade, trades.map { (Int64($0.ticket), $0.comment) })
        }
        sweep.outcome.deletions = sweep.outcome.destructiveRows
        if case .sweep(let limit?) = mode {
          sweep.outcome.deletionLimit = limit.threshold(ledgerRows: sweep.outcome.ledgerRowsCompared)
          held = sweep.outcome.deletions > sweep.outcome.deletionLimit
        }
        if held { return .rollback }
        try sweep.applyDeletions()
        return .commit
      }
      let healedThrough = [snapshot.accountsThrough, snapshot.positionsThrough, snapshot.dealsThrough,
                           snapshot.tradesThrough].compactMap { $0 }.min().map(point) ?? caughtUpThrough
      var outcome = sweep.outcome
      outcome.durableSequence = durable
      outcome.held = held
      let status = held ? ReconciliationStatus.held : ReconciliationStatus.applied
      switch mode {
      case .applyHeld(let id):
        try db.execute(
          sql: "UPDATE reconciliation_sweeps SET status = 'applied', applied_utc = ? WHERE id = ?", arguments: [now, id])
        outcome.sweepId = id
      case .sweep:
        try db.execute(
          sql: """
            INSERT INTO reconciliation_sweeps (server_id, started_utc, finished_utc, snapshot_seq, deal_window_from_msc,
              deal_window_to_msc, accounts_compared, positions_compared, deals_compared, trades_compared, divergences,
              status, applied_utc, deletions, deletion_limit, ledger_rows_compared)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: [
            server, startedUtc ?? now, now, Int64(truncatingIfNeeded: caughtUpThrough),
            snapshot.deals == nil ? nil : snapshot.dealWindow.lowerBound,
            snapshot.deals == nil ? nil : snapshot.dealWindow.upperBound,
            outcome.accountsCompared, outcome.positionsCompared, outcome.dealsCompared, outcome.tradesCompared,
            outcome.divergences.count, status, held ? nil : now, outcome.deletions,
            outcome.deletionLimit == Int.max ? nil : outcome.deletionLimit, outcome.ledgerRowsCompared,
          ])
        outcome.sweepId = db.lastInsertedRowID
        // A newer comparison of the server makes every older held one stale.
        try db.execute(
          sql: "UPDATE reconciliation_sweeps SET status = 'superseded' WHERE server_id = ? AND status = 'held' AND id < ?",
          arguments: [server, outcome.sweepId])
      }
      let insert = try db.cachedStatement(sql: """
        INSERT INTO reconciliation_divergences (sweep_id, server_id, subject, "key", field, ledger_value,
          platform_value, correction, detected_utc, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """)
      for d in outcome.divergences {
        try insert.execute(arguments: [
          outcome.sweepId, server, d.subject.rawValue, d.key, d.field, d.ledgerValue, d.platformValue,
          d.correction.rawValue, now, status,
        ])
      }
      // Held: nothing was corrected, so nothing is healed and the server is not reconciled.
      if held { return outcome }
      // Whatever the stream lost up to here is now corrected from the platform.
      try db.execute(
        sql: "UPDATE gaps SET healed_utc = ? WHERE server_id = ? AND healed_utc IS NULL AND last_seq <= ?",
        arguments: [now, server, Int64(truncatingIfNeeded: healedThrough)])
      outcome.gapsHealed = db.changesCount
      try db.execute(sql: "UPDATE servers SET last_reconciled_utc = ? WHERE id = ?", arguments: [now, server])
      return outcome
    }
  }
}

/// One sweep's comparison inside the write transaction.
private struct ReconciliationSweep {
  let db: Database
  let server: Int64
  let serverId: UInt32
  /// The snapshot's point in the stream: `updated_seq` of every correction; rows
  /// written by later events are newer than the snapshot.
  var sequence: UInt64
  var projection: LedgerProjection
  var outcome = ReconciliationOutcome(sweepId: 0, durableSequence: 0)
  /// Rows to mark deleted or remove, written only once the sweep is known not to be
  /// held: holding an impossible book then costs the comparison alone.
  var deletions: [(sql: String, arguments: StatementArguments)] = []

  private mutating func delete(_ sql: String, _ arguments: StatementArguments) {
    deletions.append((sql, arguments))
  }

  mutating func applyDeletions() throws {
    for deletion in deletions { try db.execute(sql: deletion.sql, arguments: deletion.arguments) }
    deletions.removeAll()
  }


  private mutating func record(
    _ subject: LedgerDivergence.Subject, _ key: Int64, _ field: String, _ ledger: String?, _ platform: String?,
    _ correction: LedgerDivergence.Correction
  ) {
    outcome.divergences.append(LedgerDivergence(
      subject: subject, key: key, field: field, ledgerValue: ledger, platformValue: platform, correction: correction))
  }

  /// Writes a platform record through the live projection, at the scope's point.
  private mutating func write(_ kind: RecordKind, _ body: EventBody) throws {
    try projection.project(Event(
      serverId: serverId, sequence: sequence, kind: kind, hookTimestampNanos: 0, utcOffsetMinutes: 0, body: body))
  }

  /// Records a missing row, or the differing fields of one, then writes the platform record.
  private mutating func correct(
    _ subject: LedgerDivergence.Subject, _ key: Int64, exists: Bool, check: LedgerFieldCheck, kind: RecordKind,
    body: EventBody
  ) throws {
    if !exists {
      record(subject, key, "missing", nil, "present", .inserted)
    } else if check.fields.isEmpty {
      return
    } else {
      for (field, ledger, platform) in check.fields { record(subject, key, field, ledger, platform, .updated) }
    }
    try write(kind, body)
  }

  /// A row written by an event after the snapshot's point: at least as new as the
  /// platform record, so it is left alone (the next sweep looks again).
  private func isNewer(_ row: Row) -> Bool {
    ((row["updated_seq"] as Int64?) ?? 0) > Int64(truncatingIfNeeded: sequence)
  }

  private func rows(_ sql: String, key: String) throws -> [Int64: Row] {
    var rows: [Int64: Row] = [:]
    for row in try Row.fetchAll(db, sql: sql, arguments: [server]) { rows[row[key]] = row }
    return rows
  }

  // MARK: Accounts

  mutating func compareAccounts(_ accounts: [User]) throws {
    var rows = try rows(
      #"SELECT login, "group", balance, credit, deleted, updated_seq FROM accounts WHERE server_id = ?"#, key: "login")
    outcome.ledgerRowsCompared += rows.count
    for user in accounts {
      let key = Int64(truncatingIfNeeded: user.login)
      let row = rows.removeValue(forKey: key)
      if let row, isNewer(row) { continue }
      let check = ReconciliationRules.account(row, user)
      try correct(.account, key, exists: row != nil, check: check, kind: .userUpdate, body: .user(user))
    }
    outcome.accountsCompared = accounts.count
    for (login, row) in rows where (row["deleted"] as Int64?) == 0 && !isNewer(row) {
      record(.account, login, "unexpected", "present", nil, .markedDeleted)
      delete("UPDATE accounts SET deleted = 1 WHERE server_id = ? AND login = ?", [server, login])
    }
  }

  // MARK: MT5 positions

  mutating func comparePositions(_ positions: [Position]) throws {
    var rows = try rows(
      "SELECT position, login, symbol, action, volume_ext, price_open, storage, updated_seq FROM positions WHERE server_id = ?",
      key: "position")
    outcome.ledgerRowsCompared += rows.count
    for p in positions {
      let key = Int64(truncatingIfNeeded: p.position)
      let row = rows.removeValue(forKey: key)
      if let row, isNewer(row) { continue }
      // Closed by an event after the snapshot: the snapshot's "open" is older.
      if row == nil, let closed = try Int64.fetchOne(db, sql: LedgerStatements.positionClosedSeq, arguments: [server, key]),
        closed > Int64(truncatingIfNeeded: sequence)
      {
        continue
      }
      let check = ReconciliationRules.position(row, p)
      try correct(.position, key, exists: row != nil, check: check, kind: .positionUpdate, body: .position(p))
    }
    outcome.positionsCompared = positions.count
    for (position, row) in rows where !isNewer(row) {
      record(.position, position, "unexpected", "open", nil, .removed)
      delete("DELETE FROM positions WHERE server_id = ? AND position = ?", [server, position])
    }
  }

  // MARK: MT5 deals

  mutating func compareDeals(_ deals: [Deal], window: Range<Int64>) throws {
    var rows: [Int64: Row] = [:]
    for row in try Row.fetchAll(db, sql: """
      SELECT deal, login, "order", position_id, action, entry, symbol, price, volume_ext, profit, commission,
             storage, fee, time_msc, comment, deleted, updated_seq
      FROM deals WHERE server_id = ? AND time_msc >= ? AND time_msc < ?
      """, arguments: [server, window.lowerBound, window.upperBound]) {
      rows[row["deal"]] = row
    }
    outcome.ledgerRowsCompared += rows.count
    for d in deals {
      let key = Int64(truncatingIfNeeded: d.deal)
      // A deal the ledger holds outside the window (its time changed) is still this deal.
      let row = try rows.removeValue(forKey: key)
        ?? Row.fetchOne(db, sql: """
          SELECT deal, login, "order", position_id, action, entry, symbol, price, volume_ext, profit, commission,
                 storage, fee, time_msc, comment, deleted, updated_seq FROM deals WHERE server_id = ? AND deal = ?
          """, arguments: [server, key])
      if let row, isNewer(row) { continue }
      let check = ReconciliationRules.deal(row, d)
      try correct(.deal, key, exists: row != nil, check: check, kind: .dealUpdate, body: .deal(d))
    }
    outcome.dealsCompared = deals.count
    for (deal, row) in rows where (row["deleted"] as Int64?) == 0 && !isNewer(row) {
      record(.deal, deal, "unexpected", "present", nil, .markedDeleted)
      delete("UPDATE deals SET deleted = 1 WHERE server_id = ? AND deal = ?", [server, deal])
      delete("UPDATE balance_operations SET deleted = 1 WHERE server_id = ? AND ticket = ? AND source = 'mt5_deal'",
             [server, deal])
    }
  }

  // MARK: CRM commands

  /// Marked records against their commands (``CommandMarks``), and every done money
  /// command's record: reported, never corrected.
  mutating func compareCommandMarks(_ subject: LedgerDivergence.Subject, _ records: [(key: Int64, comment: String)]) throws {
    var commands: [UInt64: CommandMarks.Command] = [:]
    for record in records {
      guard let id = CommandMarker.commandId(in: record.comment), commands[id] == nil,
        let row = try Row.fetchOne(db, sql: "SELECT status, deal FROM commands WHERE id = ? AND server_id = ?",
                                   arguments: [Int64(bitPattern: id), server]),
        let status = CommandStatus(rawValue: row["status"])
      else { continue }
      commands[id] = CommandMarks.Command(status: status, deal: (row["deal"] as Int64?).map { UInt64(bitPattern: $0) })
    }
    outcome.divergences += CommandMarks.divergences(subject: subject, records: records, commands: commands)
    let (table, key) = subject == .trade ? ("trades", "ticket") : ("deals", "deal")
    let onPlatform = Set(records.map(\.key))
    for row in try Row.fetchAll(db, sql: """
      SELECT c.id, c.deal FROM commands c WHERE c.server_id = ? AND c.status = 'done' AND c.kind = 'balance_operation'
        AND c.deal IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM \(table) t WHERE t.server_id = c.server_id AND t.\(key) = c.deal AND t.deleted = 0)
      """, arguments: [server]) where !onPlatform.contains(row["deal"]) {
      outcome.divergences.append(CommandMarks.missingRecord(commandId: row["id"], deal: row["deal"]))
    }
  }

  // MARK: MT4 trades

  mutating func compareTrades(_ trades: [Trade]) throws {
    var rows = try rows("""
      SELECT ticket, login, symbol, cmd, volume, open_price, close_price, close_time, sl, tp, commission, storage,
             profit, comment, is_open, deleted, updated_seq
      FROM trades WHERE server_id = ?
      """, key: "ticket")
    outcome.ledgerRowsCompared += rows.count
    for t in trades {
      let key = Int64(t.ticket)
      let row = rows.removeValue(forKey: key)
      if let row, isNewer(row) { continue }
      let check = ReconciliationRules.trade(row, t)
      try correct(.trade, key, exists: row != nil, check: check, kind: .tradeSnapshot, body: .trade(t))
    }
    outcome.tradesCompared = trades.count
    for (ticket, row) in rows where (row["deleted"] as Int64?) == 0 && !isNewer(row) {
      record(.trade, ticket, "unexpected", "present", nil, .markedDeleted)
      delete("UPDATE trades SET deleted = 1, is_open = 0 WHERE server_id = ? AND ticket = ?", [server, ticket])
      delete("UPDATE balance_operations SET deleted = 1 WHERE server_id = ? AND ticket = ? AND source = 'mt4_trade'",
             [server, ticket])
    }
  }
}
