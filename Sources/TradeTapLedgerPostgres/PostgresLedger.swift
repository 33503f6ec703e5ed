import Foundation
import Logging
import PostgresNIO
import Synchronization
import TradeTapEvents
import TradeTapLedger

/// The ledger on PostgreSQL (`--database postgres://user:pass@host:port/db`): the
/// same schema, constraints and exactly-once semantics as the SQLite ``Ledger``
/// (docs/ledger.md, "PostgreSQL"), through postgres-nio's `PostgresClient`.
///
/// Group commit is one transaction per committed group, `synchronous_commit = on`.
/// The writer's methods block their (non-async) caller until PostgreSQL answers.
public final class PostgresLedger: LedgerStore {
  public var backendName: String { "postgres" }
  /// Where the ledger lives (no password).
  public let url: PostgresURL
  let client: PostgresClient
  let logger: Logger
  private let runner: Task<Void, Never>
  private let closed = Mutex(false)

  private init(url: PostgresURL, client: PostgresClient, runner: Task<Void, Never>, logger: Logger) {
    self.url = url
    self.client = client
    self.runner = runner
    self.logger = logger
  }

  /// Connects and runs the named migrations not yet applied.
  /// - Parameters:
  ///   - password: used when the URL has none (`--database-password-file`); else `PGPASSWORD`.
  ///   - migrate: false for a reader that must not change the database (`tradetap verify`).
  /// - Throws: ``LedgerError/unsupportedDatabase(_:)`` for a bad URL; the driver's
  ///   error when the server cannot be reached or a migration fails.
  public static func open(
    url text: String, password: String? = nil, migrate: Bool = true,
    logger: Logger = Logger(label: "tradetap.ledger.postgres")
  ) async throws -> PostgresLedger {
    var url = try PostgresURL(text)
    if let password {
      guard (try PostgresURL(text, environment: [:])).password == nil else {
        throw LedgerError.unsupportedDatabase("\(url): a password in the URL and a password file: give it once")
      }
      url.password = password
    }
    do {
      try await url.probe(logger: logger)
    } catch let error as LedgerError {
      throw error
    } catch {
      throw LedgerError.unavailableDatabase("\(url): \(String(reflecting: error))")
    }
    // The driver's own chatter (pool start-up, keep-alives) stays below errors.
    var logger = logger
    logger.logLevel = ProcessInfo.processInfo.environment["TRADETAP_POSTGRES_TRACE"] == "1" ? .trace : max(logger.logLevel, .error)
    let client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
    let runner = Task { await client.run() }
    let ledger = PostgresLedger(url: url, client: client, runner: runner, logger: logger)
    do {
      if migrate {
        try await PostgresSchema.migrate(client, logger: logger)
      } else {
        _ = try await ledger.scalar("SELECT 1")
      }
    } catch {
      await ledger.close()
      // The driver's own description hides the cause; its reflection names it (no password).
      throw LedgerError.unavailableDatabase("\(url): \(String(reflecting: error))")
    }
    return ledger
  }

  public func close() async {
    let first = closed.withLock { wasClosed in
      defer { wasClosed = true }
      return !wasClosed
    }
    guard first else { return }
    runner.cancel()
    await runner.value
  }

  deinit { runner.cancel() }

  // MARK: - Writer (blocking)

  /// Runs `body` on the Swift concurrency pool and waits for it on this thread.
  /// Callers are the group committer's thread and NIO's thread pool, never a task.
  /// - Parameter deadline: with one, gives up (cancels `body`, throws
  ///   ``LedgerError/writeTimedOut(_:)``) when PostgreSQL has not answered in time.
  func blocking<T: Sendable>(
    deadline: Duration? = nil, _ body: @escaping @Sendable () async throws -> T
  ) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    let task = Task {
      let outcome: Result<T, any Error>
      do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
      result.withLock { $0 = outcome }
      done.signal()
    }
    if let deadline {
      let (seconds, attoseconds) = deadline.components
      let wait = DispatchTimeInterval.milliseconds(Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
      if done.wait(timeout: .now() + wait) == .timedOut {
        task.cancel()
        throw LedgerError.writeTimedOut("\(url): no answer within \(deadline)")
      }
    } else {
      done.wait()
    }
    return try result.withLock { $0! }.get()
  }

  /// How long a group commit may wait for PostgreSQL. Seen with the server stopped and
  /// started under load (Tools/faults/postgres-restart.sh): a transaction whose pooled
  /// connection died could wait forever, the writer thread with it, and the ledger
  /// never caught up. Past the deadline the commit fails like any other: its plugin
  /// connections are refused and resend from the durable point (a late commit of the
  /// abandoned transaction is harmless: resent events are deduplicated).
  static let commitDeadline: Duration = .seconds(20)

  public func commit(_ batches: [LedgerBatch], reportedGaps: [ReportedGap]) throws -> LedgerCommit {
    try blocking(deadline: Self.commitDeadline) { try await self.commitAsync(batches, reportedGaps: reportedGaps) }
  }

  /// One transaction: gaps first (a notice names sequences before the events that
  /// follow it), then every batch in order; the durable sequences last.
  public func commitAsync(_ batches: [LedgerBatch], reportedGaps: [ReportedGap] = []) async throws -> LedgerCommit {
    let receivedUtc = UTCTime.now()
    let logger = self.logger
    return try await client.withTransaction(logger: logger) { connection in
      try await Self.lockWriter(connection, logger: logger)
      var projection = PostgresProjection(connection: connection, logger: logger, receivedUtc: receivedUtc)
      for notice in reportedGaps { try await projection.recordGap(notice) }
      try await projection.apply(batches)
      return try await projection.finish()
    }
  }

  /// One writer at a time, like SQLite's: every write transaction (a group commit, a
  /// reconciliation sweep) first takes this transaction-scoped lock. So a sweep
  /// compares a ledger no commit changes under it, two transactions never deadlock
  /// on the same rows, and change ids are handed out in commit order even with two
  /// collectors on one database.
  static func lockWriter(_ connection: PostgresConnection, logger: Logger) async throws {
    try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writerLockKey))", logger: logger).drain()
  }

  /// The advisory lock key of the ledger's writer (any constant no other code uses).
  static let writerLockKey: Int64 = 0x7472_6164_6574_6170  // "tradetap"

  public func durableSequence(serverId: UInt32) throws -> UInt64 {
    try blocking { try await self.durableSequenceAsync(serverId: serverId) }
  }

  public func durableSequenceAsync(serverId: UInt32) async throws -> UInt64 {
    let value = try await scalar("SELECT last_seq FROM servers WHERE id = \(Int64(serverId))")
    return UInt64(max(0, value ?? 0))
  }

  public func recordConnection(serverId: UInt32, name: String?, platform: Int?, utcOffsetMinutes: Int32?) throws {
    let now = UTCTime.now()
    let platform = platform.map { Int64($0) }, offset = utcOffsetMinutes.map { Int64($0) }
    try blocking {
      try await self.client.query("""
        INSERT INTO servers (id, name, platform, utc_offset_minutes, first_connected_utc, last_connected_utc)
        VALUES (\(Int64(serverId)), \(name), \(platform), \(offset), \(now), \(now))
        ON CONFLICT (id) DO UPDATE SET
          name = coalesce(excluded.name, servers.name),
          platform = coalesce(excluded.platform, servers.platform),
          utc_offset_minutes = coalesce(excluded.utc_offset_minutes, servers.utc_offset_minutes),
          first_connected_utc = coalesce(servers.first_connected_utc, excluded.first_connected_utc),
          last_connected_utc = excluded.last_connected_utc
        """, logger: self.logger).drain()
    }
  }

  public func recordDisconnection(serverId: UInt32) throws {
    let now = UTCTime.now()
    try blocking {
      try await self.client.query(
        "UPDATE servers SET last_disconnected_utc = \(now) WHERE id = \(Int64(serverId))", logger: self.logger
      ).drain()
    }
  }

  public func platform(serverId: UInt32) throws -> Int? {
    try blocking { try await self.scalar("SELECT platform FROM servers WHERE id = \(Int64(serverId))").map { Int($0) } }
  }

  // MARK: - Readers

  /// The first column of the first row (every row is read, see ``PostgresProjection/int(_:)``).
  func scalar(_ query: PostgresQuery) async throws -> Int64? {
    var first: Int64?? = nil
    for try await value in try await client.query(query, logger: logger).decode(Int64?.self) where first == nil {
      first = value
    }
    return first ?? nil
  }

  /// Read access for SQL, as ``LedgerRecord``s (NUMERIC as exact decimal text).
  public func read(_ query: PostgresQuery) async throws -> [LedgerRecord] { try await records(query) }

  func records(_ query: PostgresQuery) async throws -> [LedgerRecord] {
    var records: [LedgerRecord] = []
    for try await row in try await client.query(query, logger: logger) { records.append(try LedgerRecord(postgres: row)) }
    return records
  }

  public func servers() async throws -> [LedgerRecord] {
    try await records("\(unescaped: LedgerReadSQL.servers)")
  }

  public func account(serverId: Int64, login: Int64) async throws -> LedgerRecord? {
    try await records("\(unescaped: LedgerReadSQL.account) WHERE a.server_id = \(serverId) AND a.login = \(login)").first
  }

  public func page(
    _ listing: AccountListing, serverId: Int64, login: Int64, fromUTC: String?, toUTC: String?,
    after: LedgerCursor?, limit: Int
  ) async throws -> LedgerPage {
    var rows: [LedgerRecord] = []
    for source in AccountListing.Source.of(listing) {
      var q = PostgresSQL(source.select + " WHERE server_id = ")
      q.bind(.integer(serverId))
      q.sql(" AND login = ")
      q.bind(.integer(login))
      if let filter = source.filter { q.sql(" AND \(filter)") }
      q.sql(") AS listing WHERE 1 = 1")
      if let fromUTC { q.sql(" AND \(source.utc) >= "); q.bind(.text(fromUTC)) }
      if let toUTC { q.sql(" AND \(source.utc) < "); q.bind(.text(toUTC)) }
      if let after {
        q.sql(" AND (\(source.msc) > "); q.bind(.integer(after.timeMsc))
        q.sql(" OR (\(source.msc) = "); q.bind(.integer(after.timeMsc))
        q.sql(" AND \(source.key) > "); q.bind(.integer(after.key)); q.sql("))")
      }
      q.sql(" ORDER BY \(source.msc), \(source.key) LIMIT ")
      q.bind(.integer(Int64(limit + 1)))
      rows += try await records(q.query)
    }
    return LedgerPage(merging: rows, listing: listing, limit: limit)
  }

  public func changes(afterId: Int64, limit: Int) async throws -> [LedgerRecord] {
    try await records("\(unescaped: LedgerReadSQL.changes) WHERE c.id > \(afterId) ORDER BY c.id LIMIT \(Int64(limit))")
  }

  public func lastChangeId() async throws -> Int64 {
    try await scalar("\(unescaped: LedgerReadSQL.lastChangeId)") ?? 0
  }

  public func verificationRows(_ set: VerificationSet, serverId: Int64) async throws -> [LedgerRecord] {
    try await records("\(unescaped: VerificationQueries.sql(set, money: { $0 })) = \(serverId)")
  }

  public func rowCount(_ table: LedgerTable) async throws -> Int {
    Int(try await scalar("SELECT count(*) FROM \(unescaped: table.rawValue)") ?? 0)
  }
}

extension PostgresRowSequence {
  /// Reads every row (the statement's effect is complete once the rows are consumed).
  func drain() async throws {
    for try await _ in self {}
  }
}
