import GRDB

/// The SQLite ledger as a ``LedgerStore``: the writer's methods on GRDB's single
/// writer, reads on its reader pool.
extension Ledger: LedgerStore {
  public var backendName: String { "sqlite" }

  public func commit(_ batches: [LedgerBatch], reportedGaps: [ReportedGap]) throws -> LedgerCommit {
    try writer.commit(batches, reportedGaps: reportedGaps)
  }

  public func durableSequence(serverId: UInt32) throws -> UInt64 { try writer.durableSequence(serverId: serverId) }

  public func recordConnection(serverId: UInt32, name: String?, platform: Int?, utcOffsetMinutes: Int32?) throws {
    try writer.recordConnection(serverId: serverId, name: name, platform: platform, utcOffsetMinutes: utcOffsetMinutes)
  }

  public func recordDisconnection(serverId: UInt32) throws { try writer.recordDisconnection(serverId: serverId) }

  public func platform(serverId: UInt32) throws -> Int? {
    try pool.read { db in
      try Int.fetchOne(db, sql: "SELECT platform FROM servers WHERE id = ?", arguments: [Int64(serverId)])
    }
  }

  public func reconcile(
    _ snapshot: PlatformSnapshot, caughtUpThrough: UInt64, startedUtc: String?, mode: ReconciliationMode
  ) throws -> ReconciliationOutcome? {
    try writer.reconcile(snapshot, caughtUpThrough: caughtUpThrough, startedUtc: startedUtc, mode: mode)
  }

  public func reconciliationSweepStatus(id: Int64) throws -> String? {
    try pool.read { db in
      try String.fetchOne(db, sql: "SELECT status FROM reconciliation_sweeps WHERE id = ?", arguments: [id])
    }
  }

  public func servers() async throws -> [LedgerRecord] { try await SQLiteLedgerReads(pool: pool).servers() }

  public func account(serverId: Int64, login: Int64) async throws -> LedgerRecord? {
    try await SQLiteLedgerReads(pool: pool).account(serverId: serverId, login: login)
  }

  public func page(
    _ listing: AccountListing, serverId: Int64, login: Int64, fromUTC: String?, toUTC: String?,
    after: LedgerCursor?, limit: Int
  ) async throws -> LedgerPage {
    try await SQLiteLedgerReads(pool: pool).page(
      listing, serverId: serverId, login: login, fromUTC: fromUTC, toUTC: toUTC, after: after, limit: limit)
  }

  public func changes(afterId: Int64, limit: Int) async throws -> [LedgerRecord] {
    try await SQLiteLedgerReads(pool: pool).changes(afterId: afterId, limit: limit)
  }

  public func lastChangeId() async throws -> Int64 { try await SQLiteLedgerReads(pool: pool).lastChangeId() }

  public func verificationRows(_ set: VerificationSet, serverId: Int64) async throws -> [LedgerRecord] {
    try await pool.read { db in
      try Row.fetchAll(db, sql: VerificationQueries.sql(set, money: { $0 }) + " = ?", arguments: [serverId])
        .map(LedgerRecord.init(row:))
    }
  }

  public func rowCount(_ table: LedgerTable) async throws -> Int {
    try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.rawValue)") ?? 0 }
  }

  public func close() async {}
}
