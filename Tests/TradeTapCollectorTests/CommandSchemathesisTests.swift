import Foundation
import Glibc
import Testing

/// schemathesis against the write API with the write token (SchemathesisTests runs
/// every route with the read token, where writes stop at 403): hostile bodies, keys
/// and identifiers get a documented 4xx, never a 5xx, on a real collector process
/// holding an MT5 sim day on server 5 and an MT4 one on server 6.
@Suite("Write API under schemathesis", .serialized)
struct CommandSchemathesisTests {
  static let writeToken = "schemathesis-write-token"

  @Test func theWriteAPIHasNoServerErrorAndConformsToItsDocument() throws {
    let st = try SchemathesisTests.executable()
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try CollectorProcess.prepare(
      folder: folder, secrets: "5 schemathesis-mt5-secret-5\n6 schemathesis-mt4-secret-6\n", token: Harness.token)
    try Self.writeToken.write(toFile: folder + "/write-token", atomically: true, encoding: .utf8)
    chmod(folder + "/write-token", 0o600)
    let collector = try CollectorProcess(
      folder: folder, extraArguments: ["--api-write-token-file", folder + "/write-token", "--max-operation-amount", "5000"])
    defer { collector.signal(SIGTERM); _ = collector.wait() }
    try SchemathesisTests.trade(collector, folder: folder, serverId: 5, platform: "mt5", secret: "schemathesis-mt5-secret-5")
    try SchemathesisTests.trade(collector, folder: folder, serverId: 6, platform: "mt4", secret: "schemathesis-mt4-secret-6")

    // Existing servers, so requests get past the server check to the body's.
    try """
      [[operations]]
      include-path-regex = "^/v1/servers/[^/]+/(accounts|balance-operations)$"
      parameters = { server_id = 5 }
      """.write(toFile: folder + "/mt5.toml", atomically: true, encoding: .utf8)
    try """
      [[operations]]
      include-path-regex = "^/v1/servers/[^/]+/(accounts|balance-operations)$"
      parameters = { server_id = 6 }
      """.write(toFile: folder + "/mt4.toml", atomically: true, encoding: .utf8)
    for config in ["mt5.toml", "mt4.toml"] {
      let (status, output) = try SchemathesisTests.schemathesis([
        "--config-file", config, "run", SchemathesisTests.repository + "/docs/openapi.json",
        "--url", "http://127.0.0.1:\(collector.httpPort)", "--header", "Authorization: Bearer \(Self.writeToken)",
        "--include-path-regex", "^/v1/(servers/[^/]+/(accounts|balance-operations)|commands/[^/]+)$",
        // A schema-valid body may name an account the ledger does not hold (404) or
        // a key already used with another body (409): rules OpenAPI cannot state.
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "40", "--seed", "20261203", "--workers", "1", "--no-color", "--request-timeout", "10",
      ], in: folder)
      let summary = output.split(separator: "\n").last { $0.contains(" generated, ") } ?? "no summary"
      print("[schemathesis \(URL(fileURLWithPath: st).lastPathComponent)] writes \(config): \(summary)")
      #expect(status == 0, "schemathesis found problems (\(config)):\n\(output.suffix(12_000))")
      #expect(output.contains(" passed"), "\(output.suffix(4000))")
    }
    let log = (try? String(contentsOfFile: folder + "/collector.log", encoding: .utf8)) ?? ""
    #expect(!log.contains("CRM API request failed"), "\(log.suffix(4000))")
  }
}
