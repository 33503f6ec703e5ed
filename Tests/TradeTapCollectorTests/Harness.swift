import Foundation
import GRDB
import Logging
import NIOCore
import TradeTapCollector
import TradeTapLedger

/// A collector assembled exactly as the command line does, on port 0, with a
/// fresh SQLite ledger in its own folder.
struct Harness {
  static let serverId: UInt32 = 7
  static let secret = "correct horse battery staple"
  static let token = "crm-token-123"

  let folder: String
  let collector: Collector

  var port: Int { collector.protocolAddress.port! }
  var httpPort: Int { collector.httpAddress!.port! }

  static func folder() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tradetap-collector-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func start(
    tls: CollectorConfiguration.TLSFiles? = nil, heartbeat: TimeAmount = .seconds(5), folder: String? = nil
  ) async throws -> Harness {
    let folder = try folder ?? Self.folder()
    var config = CollectorConfiguration()
    config.listenPort = 0
    config.httpPort = 0
    config.databasePath = folder + "/ledger.sqlite"
    config.secrets = [serverId: Array(secret.utf8), 8: Array("another secret".utf8)]
    config.apiToken = Array(token.utf8)
    config.tls = tls
    config.heartbeatInterval = heartbeat
    var logger = Logger(label: "test.collector")
    logger.logLevel = .warning
    return Harness(folder: folder, collector: try await Collector.start(configuration: config, logger: logger))
  }

  func count(_ table: String) throws -> Int {
    try collector.ledger.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") ?? -1 }
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

/// Runs `body` against a fresh collector and always shuts it down after.
func withCollector<T>(
  tls: CollectorConfiguration.TLSFiles? = nil, heartbeat: TimeAmount = .seconds(5), folder: String? = nil,
  _ body: (Harness) async throws -> T
) async throws -> T {
  let harness = try await Harness.start(tls: tls, heartbeat: heartbeat, folder: folder)
  // A folder the caller did not bring is this run's alone: removed after, so a
  // suite of hundreds of collectors does not fill the disk with ledgers.
  defer { if folder == nil { try? FileManager.default.removeItem(atPath: harness.folder) } }
  do {
    let result = try await body(harness)
    await harness.collector.shutdown()
    return result
  } catch {
    await harness.collector.shutdown()
    throw error
  }
}
