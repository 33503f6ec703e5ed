import Foundation
import Glibc
import Testing
import TradeTapCollector

/// The whole pipeline with real processes: `tradetap sim` loads the real plugin
/// `.so`, whose sender streams to a real `tradetap collector`; `tradetap verify`
/// then compares the simulated platform's final state with the ledger.
@Suite("Pipeline: simulated trade server → plugin → collector → ledger equals the platform", .serialized)
struct PipelineTests {
  static func artifact(_ name: String) throws -> String {
    let executable = try CollectorProcess.executable()
    let path = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(name).path
    guard FileManager.default.fileExists(atPath: path) else { throw CollectorProcess.ProcessError.missingExecutable(path) }
    return path
  }

  /// Runs `tradetap` with arguments; returns exit status and combined output.
  static func tradetap(_ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try CollectorProcess.executable())
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  static func run(platform: String, tls: Bool) throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 pipeline-run-secret\n", token: Harness.token)
    try "pipeline-run-secret\n".write(toFile: folder + "/plugin-secret", atomically: true, encoding: .utf8)
    chmod(folder + "/plugin-secret", 0o600)
    var collectorArguments: [String] = []
    var tlsParams = ["--param", "TLS=off"]
    if tls {
      let files = try ThrowawayCertificate.make(in: folder)
      collectorArguments = ["--tls-cert", files.certificatePath, "--tls-key", files.privateKeyPath]
      tlsParams = ["--param", "TLS=on", "--param", "TLS.CAFile=\(files.certificatePath)", "--param", "TLS.ServerName=localhost"]
    }
    let collector = try CollectorProcess(folder: folder, extraArguments: collectorArguments, tls: tls)
    let (simStatus, simOutput) = try tradetap([
      "sim", "--plugin", try artifact("libTradeTapPlugin.so"), "--param", "Collector=127.0.0.1:\(collector.protocolPort)",
      "--param", "SecretFile=\(folder)/plugin-secret", "--param", "Journal.Path=\(folder)/journal",
      "--platform", platform, "--events", "20000", "--rate", "0", "--seed", "7", "--linger", "3s", "--state-out", folder + "/state.json",
    ] + tlsParams)
    #expect(simStatus == 0, "\(simOutput)")
    // The plugin stays loaded 3 s after the last event (--linger) so its sender delivers the rest.
    let ledgerPath = folder + "/ledger.sqlite"
    var verifyOutput = ""
    for _ in 0..<50 {
      let (status, output) = try tradetap(["verify", "--state", folder + "/state.json", "--database", "sqlite:\(ledgerPath)"])
      verifyOutput = output
      if status == 0 { break }
      usleep(200_000)
    }
    collector.signal(SIGTERM)
    #expect(collector.wait() == 0)
    #expect(verifyOutput.contains(" 0 divergences"), "\(verifyOutput)")
  }

  @Test func anMT5DayOverPlaintextLoopbackVerifiesWithNoDivergence() throws {
    try Self.run(platform: "mt5", tls: false)
  }

  @Test func anMT4DayOverTLSVerifiesWithNoDivergence() throws {
    try Self.run(platform: "mt4", tls: true)
  }

  @Test func killDashNineOfTheCollectorMidStreamStillLeavesExactlyEveryEventOnce() async throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 pipeline-run-secret\n", token: Harness.token)
    try "pipeline-run-secret\n".write(toFile: folder + "/plugin-secret", atomically: true, encoding: .utf8)
    chmod(folder + "/plugin-secret", 0o600)
    let port = try CollectorProcess.freePort()
    let first = try CollectorProcess(folder: folder, listenPort: port)

    // 30,000 events at 10,000/s: the collector dies once 2,000 are durable, comes back 0.5 s later.
    let sim = Process()
    sim.executableURL = URL(fileURLWithPath: try CollectorProcess.executable())
    sim.arguments = [
      "sim", "--plugin", try Self.artifact("libTradeTapPlugin.so"), "--param", "Collector=127.0.0.1:\(port)",
      "--param", "SecretFile=\(folder)/plugin-secret", "--param", "Journal.Path=\(folder)/journal", "--param", "TLS=off",
      "--platform", "mt5", "--events", "30000", "--rate", "10000", "--seed", "11", "--linger", "8s",
      "--state-out", folder + "/state.json",
    ]
    let simOutput = Pipe()
    sim.standardOutput = simOutput
    sim.standardError = simOutput
    try sim.run()
    // Kill once part of the day is durable (polled, not slept: the machine may be loaded).
    for _ in 0..<200 {
      try await Task.sleep(for: .milliseconds(100))
      let (_, count) = try Self.sqlite(folder + "/ledger.sqlite", "SELECT count(*) FROM events", readOnly: false)
      if (Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 2_000 { break }
    }
    first.signal(SIGKILL)
    #expect(first.wait() == SIGKILL)
    // Mid-stream: the ledger holds only part of the day when the collector dies.
    let (_, atCrash) = try Self.sqlite(folder + "/ledger.sqlite", "SELECT count(*) FROM events", readOnly: false)
    let durableAtCrash = Int(atCrash.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    #expect(durableAtCrash > 0 && durableAtCrash < 30_000, "events durable at the crash: \(atCrash)")
    try await Task.sleep(for: .milliseconds(500))
    let second = try CollectorProcess(folder: folder, listenPort: port)
    let log = String(decoding: simOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    sim.waitUntilExit()
    #expect(sim.terminationStatus == 0, "\(log)")
    let (_, verify) = try Self.tradetap(["verify", "--state", folder + "/state.json", "--database", "sqlite:\(folder)/ledger.sqlite"])
    second.signal(SIGTERM)
    #expect(second.wait() == 0)

    // N = what the plugin journaled; the ledger holds each sequence exactly once.
    let journaled = log.components(separatedBy: " journaled").first?.split(separator: " ").last.flatMap { Int($0) }
    let n = try #require(journaled, "\(log)")
    let (status, counts) = try Self.sqlite(folder + "/ledger.sqlite",
      "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || min(seq) || ' ' || max(seq) FROM events")
    #expect(status == 0)
    #expect(counts.trimmingCharacters(in: .whitespacesAndNewlines) == "\(n) \(n) 1 \(n)")
    #expect(verify.contains(" 0 divergences"), "\(verify)")
  }

  /// Reads the ledger as a CRM would: the sqlite3 command-line tool (read-only unless a
  /// crashed writer's WAL must be recovered first).
  static func sqlite(_ path: String, _ sql: String, readOnly: Bool = true) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = (readOnly ? ["-readonly"] : []) + [path, sql]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }
}
