import Foundation
import Glibc
import Testing
import TradeTapCollector

/// Reconciliation end to end with real processes: `tradetap sim` with the real
/// plugin drops 3 % of its operations' hooks (`--miss-events 3`); a `tradetap
/// collector` sweeping every second asks the plugin for snapshots, records the
/// divergences and corrects the ledger; `tradetap verify` then finds none.
@Suite("Reconciliation: a run missing 3 % of its hooks verifies clean after one sweep", .serialized)
struct ReconciliationPipelineTests {
  static func sqlite(_ path: String, _ sql: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = ["-readonly", path, sql]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The integers of the first column of `sql` on either backend's ledger.
  static func integers(_ ledger: CrashTests.ProcessLedger, _ sql: String) async throws -> [Int64] {
    try await ledger.inspect { store in
      try await TestLedgerReader.records(store, sql).compactMap { record in
        record.fields.first.flatMap { if case .integer(let v) = $0.value { v } else { nil } }
      }
    }
  }

  static func integer(_ ledger: CrashTests.ProcessLedger, _ sql: String) async throws -> Int64? {
    try await integers(ledger, sql).first
  }

  static func run(
    platform: String, backend: LedgerBackendKind, extraSimArguments: [String] = [], verifies: Bool = true,
    then inspect: (CrashTests.ProcessLedger) async throws -> Void = { _ in }
  ) async throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 reconcile-secret\n", token: Harness.token)
    try "reconcile-secret\n".write(toFile: folder + "/plugin-secret", atomically: true, encoding: .utf8)
    chmod(folder + "/plugin-secret", 0o600)
    try await CrashTests.ProcessLedger.with(backend, folder: folder) { ledger in
    let collector = try CollectorProcess(
      folder: folder, extraArguments: ["--reconcile-every", "1s"], database: ledger.url)
    let (simStatus, simOutput) = try PipelineTests.tradetap([
      "sim", "--plugin", try PipelineTests.artifact("libTradeTapPlugin.so"),
      "--param", "Collector=127.0.0.1:\(collector.protocolPort)", "--param", "SecretFile=\(folder)/plugin-secret",
      "--param", "Journal.Path=\(folder)/journal", "--param", "TLS=off", "--platform", platform,
      // 10 s: the sweep at connect waits until the ledger holds everything sent before its
      // snapshot; on PostgreSQL one commit of the MT4 backlog (15k events) takes ~3.5 s here.
      "--events", "20000", "--rate", "0", "--seed", "11", "--miss-events", "3", "--linger", "10s",
      "--state-out", folder + "/state.json",
    ] + extraSimArguments)
    #expect(simStatus == 0, "\(simOutput)")
    let missed = simOutput.firstMatch(of: /, (\d+) missed/).flatMap { Int($0.1) } ?? 0
    #expect(missed > 100, "the run must actually lose hooks: \(simOutput)")

    let (status, verifyOutput) = try PipelineTests.tradetap([
      "verify", "--state", folder + "/state.json", "--database", ledger.url,
    ])
    let metrics = try await CRMClient(port: collector.httpPort).get("/metrics").body
    collector.signal(SIGTERM)
    #expect(collector.wait() == 0)
    if verifies { #expect(status == 0 && verifyOutput.contains(" 0 divergences"), "\(verifyOutput)") }

    // Every sweep at the final sequence: the first corrected everything, the later ones found nothing.
    let sweeps = try await integers(ledger, """
      SELECT divergences FROM reconciliation_sweeps
       WHERE snapshot_seq = (SELECT last_seq FROM servers WHERE id = 1) ORDER BY id
      """)
    #expect(sweeps.count >= 1, "a sweep ran after the last event")
    let total = Int(try await integer(ledger, "SELECT count(*) FROM reconciliation_divergences") ?? 0)
    #expect(total > 0, "the missed hooks were found")
    #expect(sweeps.dropFirst().allSatisfy { $0 == 0 }, "one sweep at the final state corrects everything: \(sweeps)")
    let inserted = try await integer(ledger, """
      SELECT count(*) FROM reconciliation_divergences WHERE field = 'missing' AND correction = 'inserted'
      """)
    #expect((inserted ?? 0) > 0, "rows the stream never carried were inserted")
    #expect(try await integer(ledger, "SELECT count(*) FROM servers WHERE id = 1 AND last_reconciled_utc IS NOT NULL") == 1)
    let metric = metrics.split(separator: "\n").first { $0.hasPrefix("tradetap_reconciliation_divergences_total ") }
    #expect(metric.flatMap { Int($0.split(separator: " ").last ?? "") } == total, "\(metric ?? "no metric")")
    try await inspect(ledger)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func anMT5RunMissingThreePercentOfHooksVerifiesCleanAndTheDivergencesAreRecorded(backend: LedgerBackendKind)
    async throws
  {
    try await Self.run(platform: "mt5", backend: backend)
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func anMT4RunMissingThreePercentOfHooksVerifiesCleanAndTheDivergencesAreRecorded(backend: LedgerBackendKind)
    async throws
  {
    try await Self.run(platform: "mt4", backend: backend)
  }

  @Test func aSweepWhileEventsStreamLeavesNoWrongCorrectionBehind() async throws {
    // No hook is missed. Sweeps at connect and 4 s later, mid-stream (about 9,000 deals,
    // 18 chunks, with 10,000 events/s flowing between them); the stream ends at 6 s and
    // the plugin leaves 1 s later, before the next sweep: what the mid-stream sweep wrote
    // is what verify sees.
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 reconcile-secret\n", token: Harness.token)
    try "reconcile-secret\n".write(toFile: folder + "/plugin-secret", atomically: true, encoding: .utf8)
    chmod(folder + "/plugin-secret", 0o600)
    let collector = try CollectorProcess(folder: folder, extraArguments: ["--reconcile-every", "4s"])
    let (simStatus, simOutput) = try PipelineTests.tradetap([
      "sim", "--plugin", try PipelineTests.artifact("libTradeTapPlugin.so"),
      "--param", "Collector=127.0.0.1:\(collector.protocolPort)", "--param", "SecretFile=\(folder)/plugin-secret",
      "--param", "Journal.Path=\(folder)/journal", "--param", "TLS=off", "--platform", "mt5",
      "--events", "60000", "--rate", "10000", "--seed", "11", "--linger", "1s", "--state-out", folder + "/state.json",
    ])
    #expect(simStatus == 0, "\(simOutput)")
    let ledgerPath = folder + "/ledger.sqlite"
    let (status, verifyOutput) = try PipelineTests.tradetap([
      "verify", "--state", folder + "/state.json", "--database", "sqlite:\(ledgerPath)",
    ])
    collector.signal(SIGTERM)
    #expect(collector.wait() == 0)
    let sweeps = Int(try Self.sqlite(ledgerPath, "SELECT count(*) FROM reconciliation_sweeps")) ?? 0
    #expect(sweeps >= 2, "the sweep at connect and one mid-stream ran")
    #expect(status == 0 && verifyOutput.contains(" 0 divergences"), "\(verifyOutput)")
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func accountsExcludedByGroupsNeverEnterTheLedgerThroughASnapshot(backend: LedgerBackendKind) async throws {
    // Mixed margin: odd logins are in real\hedging, which the plugin's Groups excludes.
    try await Self.run(
      platform: "mt5", backend: backend, extraSimArguments: ["--margin", "mixed", "--param", "Groups=*,!real\\hedging"],
      verifies: false
    ) { (ledger: CrashTests.ProcessLedger) async throws in
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM accounts WHERE login % 2 = 1") == 0)
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM deals WHERE login % 2 = 1") == 0)
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM positions WHERE login % 2 = 1") == 0)
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM accounts WHERE login % 2 = 0") == 50)
    }
  }
}
