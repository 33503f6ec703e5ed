import Logging
import TradeTapLedger
import TradeTapLedgerPostgres

/// Opens the collector's ledger on the backend its configuration names: PostgreSQL
/// when ``CollectorConfiguration/postgresURL`` is set, else the SQLite file at
/// ``CollectorConfiguration/databasePath``.
enum LedgerBackend {
  static func open(_ configuration: CollectorConfiguration, logger: Logger) async throws -> any LedgerStore {
    guard let url = configuration.postgresURL else {
      return try Ledger(path: configuration.databasePath, configuration: configuration.ledger)
    }
    return try await PostgresLedger.open(url: url, password: configuration.postgresPassword, logger: logger)
  }

  /// The ledger's location for logs (a PostgreSQL URL without its password).
  static func describe(_ configuration: CollectorConfiguration) -> String {
    guard let url = configuration.postgresURL else { return "sqlite:\(configuration.databasePath)" }
    return (try? PostgresURL(url).description) ?? "postgres://?"
  }
}
