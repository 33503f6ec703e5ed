import Foundation
import Glibc
import Testing

/// Secrets on disk and in logs: loose files are refused at startup, the ledger the
/// collector creates is private, and no secret or token ever reaches a log.
@Suite("Secrets: loose files refused, private ledger, nothing logged", .serialized)
struct SecretHandlingTests {
  /// Runs `tradetap collector` expecting it to refuse startup; returns its output.
  static func refusedStartup(_ folder: String, _ extra: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try Artifacts.path("tradetap"))
    process.arguments = [
      "collector", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--database", "sqlite:\(folder)/refused.sqlite",
      "--secrets", folder + "/secrets", "--api-token-file", folder + "/token",
    ] + extra
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test func anAPITokenFileGroupOrOthersCanReadIsRefusedAtStartup() throws {
    let folder = try Artifacts.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try "1 s3cret-for-loose-token-test\n".write(toFile: folder + "/secrets", atomically: true, encoding: .utf8)
    chmod(folder + "/secrets", 0o600)
    try "loose-token\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
    chmod(folder + "/token", 0o644)
    let (status, output) = try Self.refusedStartup(folder, ["--no-tls"])
    #expect(status != 0)
    #expect(output.contains("mode 644 lets group or others read it; run chmod 600 \(folder)/token"), "\(output)")
    #expect(!output.contains("loose-token"))
    #expect(!FileManager.default.fileExists(atPath: folder + "/refused.sqlite"))
  }

  @Test func aSecretShorterThanSixteenBytesIsRefusedAtStartupNamingTheServerIdNotTheSecret() throws {
    let folder = try Artifacts.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try "1 secret-of-server-one\n3 short-secret\n".write(toFile: folder + "/secrets", atomically: true, encoding: .utf8)
    try "token-of-the-short-secret-test\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
    chmod(folder + "/secrets", 0o600)
    chmod(folder + "/token", 0o600)
    let (status, output) = try Self.refusedStartup(folder, ["--no-tls"])
    print("[secrets] a 12-byte secret: exit \(status): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
    #expect(status != 0)
    #expect(output.contains("server id 3"), "\(output)")
    #expect(output.contains("12 bytes") && output.contains("16"), "\(output)")
    #expect(!output.contains("short-secret"), "the secret itself is never printed")
    #expect(!FileManager.default.fileExists(atPath: folder + "/refused.sqlite"))
  }

  @Test func aTLSPrivateKeyGroupCanReadIsRefusedAtStartup() throws {
    let folder = try Artifacts.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try "1 s3cret-of-server-one\n".write(toFile: folder + "/secrets", atomically: true, encoding: .utf8)
    try "token\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
    chmod(folder + "/secrets", 0o600)
    chmod(folder + "/token", 0o600)
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                         "-subj", "/CN=localhost", "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem"]
    openssl.standardError = FileHandle.nullDevice
    try openssl.run()
    openssl.waitUntilExit()
    chmod(folder + "/key.pem", 0o640)
    let (status, output) = try Self.refusedStartup(folder, ["--tls-cert", folder + "/cert.pem", "--tls-key", folder + "/key.pem"])
    #expect(status != 0)
    #expect(output.contains("private key \(folder)/key.pem: mode 640 lets group or others read it"), "\(output)")
  }

  @Test func theLedgerIsCreatedPrivateAndNoSecretOrTokenReachesALog() throws {
    let plugin = try Artifacts.path("libTradeTapPlugin.so")
    let collector = try CollectorUnderTest(heartbeat: "1s")
    defer { collector.stop() }
    let host = try IdleConnectionTests.compileHost(into: collector.folder)
    let good = collector.folder + "/plugin-secret", wrong = collector.folder + "/wrong-secret"
    let wrongSecret = "not-the-secret-of-server-two"
    try (CollectorUnderTest.secrets[1]! + "\n").write(toFile: good, atomically: true, encoding: .utf8)
    try (wrongSecret + "\n").write(toFile: wrong, atomically: true, encoding: .utf8)
    chmod(good, 0o600)
    chmod(wrong, 0o600)
    func run(_ id: String, _ secret: String, _ log: String) throws -> Int32 {
      let (status, _) = try IdleConnectionTests.runHost(host, [
        plugin, "--server-id", id, "--kinds", "deals", "--log", collector.folder + "/" + log,
        "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=\(secret)", "--param", "TLS=off",
        "--param", "Journal.Path=\(collector.folder)/journal-\(id)", "--param", "Heartbeat.Seconds=1",
        "--threads", "1", "--events", "20", "--sleep-us", "100000",
      ])
      return status
    }
    #expect(try run("1", good, "host-good.log") == 0)   // authenticates and streams
    #expect(try run("2", wrong, "host-wrong.log") == 0)  // refused: wrong secret, retried with backoff
    // The HTTP API with a wrong token, then the right one.
    for token in ["wrong-token-value", "token-fault-tests"] {
      let curl = Process()
      curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      curl.arguments = ["python3", "-c", """
        import urllib.request,sys
        r=urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
        try: urllib.request.urlopen(r, timeout=5)
        except Exception: pass
        """, "http://127.0.0.1:\(collector.httpPort)/v1/accounts", token]
      try curl.run()
      curl.waitUntilExit()
    }
    #expect(try collector.ledgerCount("SELECT count(*) FROM events WHERE server_id = 1") > 0)
    var info = stat()
    #expect(stat(collector.folder + "/ledger.sqlite", &info) == 0)
    #expect(info.st_mode & 0o777 == 0o600, "ledger mode \(String(info.st_mode & 0o777, radix: 8))")

    let logs = ["collector.log", "host-good.log", "host-wrong.log"].map {
      (name: $0, text: (try? String(contentsOfFile: collector.folder + "/" + $0, encoding: .utf8)) ?? "")
    }
    #expect(logs[2].text.contains("wrong secret"), "the wrong-secret run must have been refused: \(logs[2].text)")
    let secrets = [CollectorUnderTest.secrets[1]!, CollectorUnderTest.secrets[2]!, wrongSecret, "token-fault-tests", "wrong-token-value"]
    var found: [String] = []
    for log in logs { for secret in secrets where log.text.contains(secret) { found.append("\(secret) in \(log.name)") } }
    print("[secrets] \(logs.map { "\($0.name) \($0.text.utf8.count) bytes" }.joined(separator: ", ")) searched for \(secrets.count) secrets/tokens: \(found.count) found")
    #expect(found.isEmpty, "\(found)")
  }
}
