import GRDB

/// How the ledger database is opened. Every field has a documented default.
public struct LedgerConfiguration: Sendable {
  /// SQLite's `synchronous` level. `.full` (default) syncs the WAL at every commit,
  /// so an acknowledged event survives power loss; `.normal` survives a process
  /// crash (kill -9) but not a power cut, and commits faster.
  public enum Durability: String, Sendable { case full = "FULL", normal = "NORMAL" }
  public var durability: Durability
  /// Readers the pool keeps open next to the single writer. Default 4.
  public var maximumReaderCount: Int
  /// How long a write waits for another process's lock on the file (a CRM's write,
  /// a backup) before it fails, in seconds. Default 10. While it waits, the group
  /// committer holds its batches and connections stop being read (back-pressure);
  /// without it a commit failed at once and every plugin reconnected.
  public var busyTimeoutSeconds: Double

  public init(durability: Durability = .full, maximumReaderCount: Int = 4, busyTimeoutSeconds: Double = 10) {
    self.durability = durability
    self.maximumReaderCount = maximumReaderCount
    self.busyTimeoutSeconds = busyTimeoutSeconds
  }
}

/// The ledger: one SQLite database in WAL mode, migrated on open.
///
/// Readers (verify, the CRM API) use ``reader``; all writes go through ``writer``,
/// which keeps the ledger idempotent and ordered by sequence number.
public final class Ledger: Sendable {
  /// The underlying pool: one writer, concurrent readers (WAL).
  public let pool: DatabasePool
  /// The only way events enter the ledger.
  public let writer: LedgerWriter

  /// Opens (creating if needed) and migrates the ledger at `path`.
  /// - Parameters:
  ///   - path: the SQLite file.
  ///   - configuration: durability and pool size.
  /// - Throws: a GRDB `DatabaseError` when the file cannot be opened or migrated.
  public init(path: String, configuration: LedgerConfiguration = LedgerConfiguration()) throws {
    var config = Configuration()
    config.maximumReaderCount = configuration.maximumReaderCount
    config.foreignKeysEnabled = true
    config.busyMode = .timeout(configuration.busyTimeoutSeconds)
    let durability = configuration.durability
    config.prepareDatabase { db in
      try db.execute(sql: "PRAGMA synchronous = \(durability.rawValue)")
    }
    pool = try DatabasePool(path: path, configuration: config)
    try LedgerSchema.migrator.migrate(pool)
    writer = LedgerWriter(pool: pool)
  }

  /// Opens an existing ledger for reading only (`tradetap verify`, the demo's
  /// progress), while a collector may be writing it: never creates, migrates or
  /// writes the file (the writer's methods fail).
  /// - Throws: a GRDB `DatabaseError` when the file cannot be opened.
  public init(readingPath path: String, busyTimeoutSeconds: Double = 10) throws {
    var config = Configuration()
    config.readonly = true
    config.busyMode = .timeout(busyTimeoutSeconds)
    pool = try DatabasePool(path: path, configuration: config)
    writer = LedgerWriter(pool: pool)
  }

  /// Read access for SQL or the row types (`try ledger.read { try DealRow.fetchAll($0) }`).
  public func read<T>(_ body: (Database) throws -> T) throws -> T {
    try pool.read(body)
  }
}
