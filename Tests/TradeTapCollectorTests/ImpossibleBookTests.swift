import Foundation
import Glibc
import Testing
import TradeTapCollector

/// Reconciliation never believes an impossible book (issue 10). Real processes: the
/// plain-C host (Tools/c-host/host.c) loads the real plugin `.so`, a real `tradetap
/// collector` keeps the ledger, on both backends.
///
/// Phase 1 streams deals with reconciliation off. Phase 2 restarts the collector with
/// reconciliation on and the host's query functions answering an empty book (or an
/// error): the sweep at connect must hold (or abandon), never mark the ledger deleted.
@Suite("Reconciliation: an impossible book is held, a failed query abandons the sweep", .serialized)
struct ImpossibleBookTests {
  static let deals = 20_000
  static let secret = "impossible-book-secret"

  static var repository: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }

  static func compileHost(into folder: String) throws -> String {
    let output = folder + "/c-host"
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
    cc.arguments = [
      "-std=c11", "-O2", "-pthread", "-I", repository + "/CInterop/TradeServerAPI/include",
      repository + "/Tools/c-host/host.c", "-o", output, "-ldl", "-lm",
    ]
    try cc.run()
    cc.waitUntilExit()
    guard cc.terminationStatus == 0 else { throw CollectorProcess.ProcessError.missingExecutable(output) }
    return output
  }

  /// Starts the host (output in `folder/host-N.log`).
  static func startHost(_ host: String, folder: String, port: Int, _ extra: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: host)
    process.arguments = [
      try PipelineTests.artifact("libTradeTapPlugin.so"), "--server-id", "1", "--kinds", "deals",
      "--log", folder + "/host.log", "--param", "Collector=127.0.0.1:\(port)",
      "--param", "SecretFile=\(folder)/plugin-secret", "--param", "TLS=off",
      "--param", "Journal.Path=\(folder)/journal", "--param", "Heartbeat.Seconds=1",
    ] + extra
    process.standardOutput = FileHandle(forWritingAtPath: folder + "/host.out") ?? FileHandle.nullDevice
    process.standardError = process.standardOutput
    try process.run()
    return process
  }

  /// Polls `condition` every 200 ms for up to `seconds`.
  static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if try await condition() { return true }
      try await Task.sleep(for: .milliseconds(200))
    }
    return try await condition()
  }

  static func integer(_ ledger: CrashTests.ProcessLedger, _ sql: String) async throws -> Int {
    Int(try await ReconciliationPipelineTests.integer(ledger, sql) ?? -1)
  }

  /// The value of one metric sample line (`name{labels} value`), or nil.
  static func sample(_ metrics: String, _ prefix: String) -> Double? {
    metrics.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
  }

  /// Phase 1: `deals` deals from the c-host reach the ledger, no sweep at all.
  static func streamDeals(folder: String, host: String, ledger: CrashTests.ProcessLedger) async throws {
    let collector = try CollectorProcess(folder: folder, extraArguments: ["--reconcile-every", "0"], database: ledger.url)
    let run = try startHost(host, folder: folder, port: collector.protocolPort, [
      "--threads", "2", "--events", "\(deals / 2)", "--linger-ms", "1500",
    ])
    run.waitUntilExit()
    #expect(run.terminationStatus == 0)
    let delivered = try await eventually(30) { try await integer(ledger, "SELECT count(*) FROM deals") >= deals }
    let count = try await integer(ledger, "SELECT count(*) FROM deals")
    #expect(delivered, "phase 1 delivered \(count) deals")
    collector.signal(SIGTERM)
    #expect(collector.wait() == 0)
  }

  static func prepare() throws -> String {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 \(secret)\n", token: Harness.token)
    try "\(secret)\n".write(toFile: folder + "/plugin-secret", atomically: true, encoding: .utf8)
    chmod(folder + "/plugin-secret", 0o600)
    return folder
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func anEmptyBookIsHeldVisibleAndAppliedOnlyByAnOperatorsPost(backend: LedgerBackendKind) async throws {
    let folder = try Self.prepare()
    try await CrashTests.ProcessLedger.with(backend, folder: folder) { ledger in
      let host = try Self.compileHost(into: folder)
      try await Self.streamDeals(folder: folder, host: host, ledger: ledger)

      // Phase 2: the host's users_enum and deals_enum answer TS_OK with nothing in them.
      // One sweep, at connect (the next would be in an hour).
      let collector = try CollectorProcess(folder: folder, extraArguments: ["--reconcile-every", "1h"], database: ledger.url)
      let api = CRMClient(port: collector.httpPort)
      let run = try Self.startHost(host, folder: folder, port: collector.protocolPort, [
        "--threads", "1", "--events", "1", "--linger-ms", "3000", "--empty-book",
      ])
      defer { if run.isRunning { run.terminate() } }
      var heldId: Int64 = 0
      let held = try await Self.eventually(60) {
        let servers = try await api.get("/v1/servers").json["servers"] as? [[String: Any]] ?? []
        guard let server = servers.first(where: { ($0["server_id"] as? Int) == 1 }),
          (server["held_sweeps"] as? Int) == 1, let id = server["held_sweep_id"] as? Int
        else { return false }
        heldId = Int64(id)
        return true
      }
      #expect(held, "GET /v1/servers shows the held sweep")
      run.waitUntilExit()
      // The phase-2 deal has the ticket of phase 1's first (the host numbers them per run).
      let total = try await Self.integer(ledger, "SELECT count(*) FROM deals")
      #expect(total >= Self.deals)

      // Held: nothing deleted; every divergence recorded as held; one WARN line; the gauge.
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM deals WHERE deleted = 1") == 0)
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM reconciliation_sweeps WHERE status = 'held'") == 1)
      let heldRows = try await Self.integer(ledger, """
        SELECT count(*) FROM reconciliation_divergences
         WHERE status = 'held' AND subject = 'deal' AND correction = 'marked_deleted'
        """)
      #expect(heldRows == total, "every deal would have been deleted: \(heldRows) of \(total)")
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM reconciliation_divergences WHERE status = 'applied'") == 0)
      let metrics = try await api.get("/metrics").body
      #expect(Self.sample(metrics, "tradetap_reconciliation_held_sweeps{server_id=\"1\"}") == 1, "\(metrics)")
      let log = (try? String(contentsOfFile: folder + "/collector.log", encoding: .utf8)) ?? ""
      let warnings = log.split(separator: "\n").filter { $0.contains("HELD") }
      #expect(warnings.count == 1 && warnings.first?.contains("warning") == true, "\(warnings)")

      // Only a token holder's POST applies it.
      #expect(try await api.post("/v1/reconciliation/sweeps/\(heldId)/apply", token: .some(nil)).status == 401)
      #expect(try await api.post("/v1/reconciliation/sweeps/\(heldId + 1000)/apply").status == 404)
      let applied = try await api.post("/v1/reconciliation/sweeps/\(heldId)/apply")
      #expect(applied.status == 200, "\(applied.body)")
      #expect((applied.json["divergences"] as? Int ?? 0) >= total, "\(applied.body)")
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM deals WHERE deleted = 0") == 0)
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM reconciliation_sweeps WHERE status = 'applied'") == 1)
      #expect(try await Self.integer(ledger, """
        SELECT count(*) FROM reconciliation_divergences WHERE status = 'applied' AND subject = 'deal'
        """) == total)
      let again = try await api.post("/v1/reconciliation/sweeps/\(heldId)/apply")
      #expect(again.status == 409 && again.errorCode == "sweep_not_held", "\(again.body)")
      let after = try await api.get("/metrics").body
      #expect(Self.sample(after, "tradetap_reconciliation_held_sweeps{server_id=\"1\"}") == 0)
      let servers = try await api.get("/v1/servers").json["servers"] as? [[String: Any]] ?? []
      #expect(servers.first?["held_sweeps"] as? Int == 0)
      collector.signal(SIGTERM)
      #expect(collector.wait() == 0)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func aQueryFunctionThatAnswersAnErrorAbandonsTheSweep(backend: LedgerBackendKind) async throws {
    let folder = try Self.prepare()
    try await CrashTests.ProcessLedger.with(backend, folder: folder) { ledger in
      let host = try Self.compileHost(into: folder)
      try await Self.streamDeals(folder: folder, host: host, ledger: ledger)

      // Phase 2: users_enum answers an empty book, deals_enum and positions_enum TS_ERR_NOT_FOUND (6).
      // Even a limit that would let the whole ledger go (100 %) must not delete anything.
      let collector = try CollectorProcess(
        folder: folder, extraArguments: ["--reconcile-every", "1s", "--reconcile-max-deletions", "100%"],
        database: ledger.url)
      let api = CRMClient(port: collector.httpPort)
      let run = try Self.startHost(host, folder: folder, port: collector.protocolPort, [
        "--threads", "1", "--events", "1", "--linger-ms", "4000", "--empty-book", "--query-error", "6",
      ])
      run.waitUntilExit()
      let metrics = try await api.get("/metrics").body
      collector.signal(SIGTERM)
      #expect(collector.wait() == 0)
      #expect((Self.sample(metrics, "tradetap_reconciliation_sweeps_failed_total") ?? 0) >= 2, "every sweep abandoned")
      #expect(Self.sample(metrics, "tradetap_reconciliation_sweeps_total") == 0)
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM reconciliation_sweeps") == 0)
      #expect(try await Self.integer(ledger, "SELECT count(*) FROM deals WHERE deleted = 1") == 0)
      let log = (try? String(contentsOfFile: folder + "/collector.log", encoding: .utf8)) ?? ""
      #expect(log.contains("answered error 6 (TS_ERR_NOT_FOUND)"), "\(log.suffix(2000))")
    }
  }
}
