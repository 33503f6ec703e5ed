import Foundation
import Glibc
import Testing

/// Issue 10, finding 8: `--no-tls` worked on any listen address and was logged at
/// INFO. Plaintext is for loopback; anywhere else it takes `--allow-insecure-no-tls`,
/// and it is logged at WARN either way.
@Suite("Collector: plaintext only on loopback", .serialized)
struct PlaintextListenTests {
  /// Starts `tradetap collector` with `arguments` (plus secrets and token), waits for
  /// its first stdout line, stops it; returns the line, exit status and stderr.
  static func run(_ arguments: [String]) throws -> (line: String, status: Int32, log: String) {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 a-secret-of-twenty-bytes\n", token: Harness.token)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try CollectorProcess.executable())
    process.arguments = [
      "collector", "--http", "127.0.0.1:0", "--database", "sqlite:\(folder)/ledger.sqlite",
      "--secrets", folder + "/secrets", "--api-token-file", folder + "/token",
    ] + arguments
    let stdout = Pipe()
    process.standardOutput = stdout
    process.standardError = FileHandle(forWritingAtPath: folder + "/collector.log")
    try process.run()
    var line: [UInt8] = []
    while let byte = stdout.fileHandleForReading.readData(ofLength: 1).first, byte != UInt8(ascii: "\n") { line.append(byte) }
    usleep(300_000)  // the SIGTERM handler is installed just after the line
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    process.waitUntilExit()
    let log = (try? String(contentsOfFile: folder + "/collector.log", encoding: .utf8)) ?? ""
    return (String(decoding: line, as: UTF8.self), process.terminationStatus, log)
  }

  @Test func noTLSIsRefusedOnAnAddressThatIsNotLoopback() throws {
    let (line, status, log) = try Self.run(["--listen", "0.0.0.0:0", "--no-tls"])
    #expect(status != 0)
    #expect(!line.hasPrefix("listening"))
    #expect(log.contains("--no-tls is refused on 0.0.0.0, which is not a loopback address"), "\(log)")
    #expect(log.contains("--allow-insecure-no-tls"))
  }

  @Test func allowInsecureNoTLSListensAnywhereWithAWarning() throws {
    let (line, status, log) = try Self.run(["--listen", "0.0.0.0:0", "--no-tls", "--allow-insecure-no-tls"])
    #expect(line.hasPrefix("listening protocol=0.0.0.0:"), "\(log)")
    #expect(status == 0)
    #expect(log.contains("warning tradetap.collector: [TradeTapCollector] TLS is off (--no-tls)"), "\(log)")
    #expect(log.contains("which is not loopback (--allow-insecure-no-tls)"))
  }

  @Test func noTLSOnLoopbackStartsWithAWarning() throws {
    let (line, status, log) = try Self.run(["--listen", "127.0.0.1:0", "--no-tls"])
    #expect(line.hasPrefix("listening protocol=127.0.0.1:"), "\(log)")
    #expect(status == 0)
    #expect(log.contains("warning tradetap.collector: [TradeTapCollector] TLS is off (--no-tls)"), "\(log)")
  }
}
