import Foundation
import Logging
import TradeTapLedger
import TradeTapLedgerPostgres

/// Opens the ledger a ``LedgerLocation`` names on its backend: the SQLite ``Ledger``
/// or the ``PostgresLedger``. The only place outside the two backend modules that
/// knows both, so commands never choose one themselves.
public enum LedgerBackend {
  /// What the opener may do to the ledger.
  public enum Access: Sendable {
    /// The collector: creates the ledger if needed, migrates it, writes it.
    case write
    /// `verify`, the demo: an existing ledger, never created, migrated or written.
    case read
  }

  /// - Parameters:
  ///   - password: PostgreSQL's when the URL has none (`--database-password-file`).
  ///   - sqlite: durability, pool size and busy timeout of a SQLite ledger.
  /// - Throws: ``LedgerError/unavailableDatabase(_:)`` for a SQLite file a reader
  ///   cannot open (`no ledger at PATH` when there is none); PostgreSQL's errors
  ///   from `PostgresLedger.open` (a malformed URL, an unreachable server).
  public static func open(
    _ location: LedgerLocation, access: Access, password: String? = nil,
    sqlite: LedgerConfiguration = LedgerConfiguration(), logger: Logger = Logger(label: "tradetap.ledger")
  ) async throws -> any LedgerStore {
    switch (location, access) {
    case (.sqlite(let path), .write):
      return try Ledger(path: path, configuration: sqlite)
    case (.sqlite(let path), .read):
      guard FileManager.default.fileExists(atPath: path) else { throw LedgerError.unavailableDatabase("no ledger at \(path)") }
      do {
        return try Ledger(readingPath: path, busyTimeoutSeconds: sqlite.busyTimeoutSeconds)
      } catch {
        throw LedgerError.unavailableDatabase("cannot open \(path): \(error)")
      }
    case (.postgres(let url), _):
      return try await PostgresLedger.open(url: url, password: password, migrate: access == .write, logger: logger)
    }
  }

  /// Opens the collector's ledger (``CollectorConfiguration/ledgerLocation``) for writing.
  static func open(_ configuration: CollectorConfiguration, logger: Logger) async throws -> any LedgerStore {
    try await open(
      configuration.ledgerLocation, access: .write, password: configuration.postgresPassword,
      sqlite: configuration.ledger, logger: logger)
  }

  /// The ledger's location for logs and errors (a PostgreSQL URL without its password).
  public static func describe(_ location: LedgerLocation) -> String {
    switch location {
    case .sqlite(let path): "sqlite:\(path)"
    case .postgres(let url): (try? PostgresURL(url).description) ?? "postgres://?"
    }
  }

  static func describe(_ configuration: CollectorConfiguration) -> String { describe(configuration.ledgerLocation) }
}

extension CollectorConfiguration {
  /// The ledger this configuration names: ``postgresURL`` when set, else the SQLite
  /// file at ``databasePath``.
  public var ledgerLocation: LedgerLocation {
    get { postgresURL.map { .postgres(url: $0) } ?? .sqlite(path: databasePath) }
    set {
      switch newValue {
      case .sqlite(let path):
        databasePath = path
        postgresURL = nil
      case .postgres(let url):
        postgresURL = url
      }
    }
  }
}
