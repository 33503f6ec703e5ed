import Foundation
import GRDB
import Logging
import NIOCore
import PostgresNIO
import TradeTapCollector
import TradeTapLedger
import TradeTapLedgerPostgres

/// The ledger backends every collector test runs against (`@Test(arguments: LedgerBackendKind.allCases)`).
enum LedgerBackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
  case sqlite, postgres
  var description: String { rawValue }
}

/// A collector assembled exactly as the command line does, on port 0, with a
/// fresh ledger: a SQLite file in its own folder, or its own PostgreSQL database
/// in the throwaway cluster (``TestPostgres``).
struct Harness {
  static let serverId: UInt32 = 7
  static let secret = "correct horse battery staple"
  static let token = "crm-token-123"

  let folder: String
  let collector: Collector
  let backend: LedgerBackendKind
  /// The PostgreSQL database of this collector (postgres backend only).
  let database: TestPostgres.Database?

  var port: Int { collector.protocolAddress.port! }
  var httpPort: Int { collector.httpAddress!.port! }

  static func folder() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tradetap-collector-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func start(
    tls: CollectorConfiguration.TLSFiles? = nil, heartbeat: TimeAmount = .seconds(5), folder: String? = nil,
    backend: LedgerBackendKind = .sqlite, database: TestPostgres.Database? = nil, webhooks: [String] = []
  ) async throws -> Harness {
    let folder = try folder ?? Self.folder()
    var config = CollectorConfiguration()
    config.listenPort = 0
    config.httpPort = 0
    config.databasePath = folder + "/ledger.sqlite"
    var database = database
    if backend == .postgres {
      if database == nil { database = try await TestPostgres.createDatabase() }
      config.postgresURL = database!.url
    }
    config.secrets = [serverId: Array(secret.utf8), 8: Array("another secret of server 8".utf8)]
    config.apiToken = Array(token.utf8)
    config.tls = tls
    config.heartbeatInterval = heartbeat
    config.webhooks = webhooks
    if !webhooks.isEmpty { config.webhookSecret = Array("webhook secret of the tests".utf8) }
    var logger = Logger(label: "test.collector")
    logger.logLevel = .warning
    return Harness(
      folder: folder, collector: try await Collector.start(configuration: config, logger: logger), backend: backend,
      database: database)
  }

  /// Rows of a table (SQLite ledgers only: synchronous; see ``rowCount(_:)``).
  func count(_ table: String) throws -> Int {
    guard let ledger = collector.ledger as? Ledger else {
      throw TestPostgres.Failure("count(_:) reads SQLite only; use rowCount(_:) on \(backend)")
    }
    return try ledger.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") ?? -1 }
  }

  /// Rows of a table, on either backend.
  func rowCount(_ table: LedgerTable) async throws -> Int { try await collector.ledger.rowCount(table) }

  /// Runs constant SQL (no values: both dialects read it) on the collector's ledger.
  func records(_ sql: String) async throws -> [LedgerRecord] {
    try await TestLedgerReader.records(collector.ledger, sql)
  }
}

/// Reads any ledger with constant SQL (tests only).
enum TestLedgerReader {
  static func records(_ ledger: any LedgerStore, _ sql: String) async throws -> [LedgerRecord] {
    if let sqlite = ledger as? Ledger {
      return try await sqlite.pool.read { db in try Row.fetchAll(db, sql: sql).map(LedgerRecord.init(row:)) }
    }
    guard let postgres = ledger as? PostgresLedger else { throw TestPostgres.Failure("unknown ledger backend") }
    return try await postgres.read(PostgresQuery(unsafeSQL: sql))
  }
}

/// The throwaway PostgreSQL cluster Tools/test.sh starts (`TRADETAP_TEST_POSTGRES_URL`).
/// Each test gets its own database, created here and dropped after, so tests never
/// see each other's rows. A missing URL is a failure, never a skip.
enum TestPostgres {
  struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }

  /// A database made for one test.
  struct Database: Sendable {
    let name: String
    let url: String
  }

  static func adminURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["TRADETAP_TEST_POSTGRES_URL"], !url.isEmpty else {
      throw Failure("TRADETAP_TEST_POSTGRES_URL is not set: start a cluster with Tools/postgres/cluster.sh start (Tools/test.sh does)")
    }
    return url
  }

  static func createDatabase() async throws -> Database {
    let admin = try PostgresURL(adminURL())
    let name = "tradetap_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    // An identifier cannot be a bound value; the name is generated hex, never input.
    try await withAdmin { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
    let url = "postgres://\(admin.username):\(admin.password ?? "")@\(admin.host):\(admin.port)/\(name)?sslmode=disable"
    return Database(name: name, url: url)
  }

  static func dropDatabase(_ database: Database) async throws {
    try await withAdmin {
      try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database.name) WITH (FORCE)"))
    }
  }

  private static func withAdmin(_ body: @Sendable (PostgresClient) async throws -> Void) async throws {
    let admin = try PostgresURL(adminURL())
    let client = PostgresClient(configuration: .init(
      host: admin.host, port: admin.port, username: admin.username, password: admin.password,
      database: admin.database, tls: .disable))
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await client.run() }
      defer { group.cancelAll() }
      try await body(client)
    }
  }
}

/// Generates a throwaway self-signed certificate for `localhost` with the openssl tool.
enum ThrowawayCertificate {
  static func make(in folder: String) throws -> CollectorConfiguration.TLSFiles {
    let cert = folder + "/cert.pem", key = folder + "/key.pem"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout", key, "-out", cert,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CertificateError.opensslFailed(process.terminationStatus) }
    return .init(certificatePath: cert, privateKeyPath: key)
  }

  enum CertificateError: Error { case opensslFailed(Int32) }
}

/// Runs `body` against a fresh collector (on `backend`) and always shuts it down,
/// and removes its ledger (folder or database), after.
func withCollector<T>(
  tls: CollectorConfiguration.TLSFiles? = nil, heartbeat: TimeAmount = .seconds(5), folder: String? = nil,
  backend: LedgerBackendKind = .sqlite, webhooks: [String] = [], _ body: (Harness) async throws -> T
) async throws -> T {
  let harness = try await Harness.start(tls: tls, heartbeat: heartbeat, folder: folder, backend: backend, webhooks: webhooks)
  // A folder the caller did not bring is this run's alone: removed after, so a
  // suite of hundreds of collectors does not fill the disk with ledgers.
  defer { if folder == nil { try? FileManager.default.removeItem(atPath: harness.folder) } }
  let result: Result<T, any Error>
  do {
    result = .success(try await body(harness))
  } catch {
    result = .failure(error)
  }
  await harness.collector.shutdown()
  if let database = harness.database { try await TestPostgres.dropDatabase(database) }
  return try result.get()
}
