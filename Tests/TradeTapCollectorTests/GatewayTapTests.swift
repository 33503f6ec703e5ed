import Foundation
import Glibc
import Testing
import TradeTapCollector

/// The gateway model end to end on the plugin side (issue 11): the plain-C gateway
/// host (Tools/c-gateway-host) loads the real `.so` through the three gateway exports,
/// runs a trade-server instance beside it, and both feed one real `tradetap collector`,
/// the gateway under its gateway id as source id (same secrets file). The collector
/// journals gateway events as `events` rows (their own tables are not built yet).
@Suite("Gateway tap: a C gateway host feeds a real collector", .serialized)
struct GatewayTapTests {
  static let gatewayId = 501

  static func compileHost(into folder: String) throws -> String {
    let output = folder + "/gateway-host"
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
    cc.arguments = [
      "-std=c11", "-O2", "-pthread", "-I", ImpossibleBookTests.repository + "/CInterop/TradeServerAPI/include",
      ImpossibleBookTests.repository + "/Tools/c-gateway-host/gateway-host.c", "-o", output, "-ldl", "-lm",
    ]
    try cc.run()
    cc.waitUntilExit()
    guard cc.terminationStatus == 0 else { throw CollectorProcess.ProcessError.missingExecutable(output) }
    return output
  }

  /// Runs the host to completion; its `key=value` lines.
  static func runHost(_ host: String, folder: String, port: Int, run: Int, _ extra: [String]) throws -> (Int32, [String: String]) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: host)
    var arguments = [try PipelineTests.artifact("libTradeTapPlugin.so"), "--gateway-id", "\(gatewayId)", "--server-id", "1",
                     "--log", folder + "/host.log"]
    for (name, value) in [("Collector", "127.0.0.1:\(port)"), ("TLS", "off"), ("Heartbeat.Seconds", "1")] {
      arguments += ["--param", "\(name)=\(value)", "--server-param", "\(name)=\(value)"]
    }
    arguments += ["--param", "SecretFile=\(folder)/gateway-secret", "--param", "Journal.Path=\(folder)/gateway-journal",
                  "--server-param", "SecretFile=\(folder)/server-secret", "--server-param", "Journal.Path=\(folder)/server-journal"]
    process.arguments = arguments + extra
    let out = folder + "/host-\(run).out"
    FileManager.default.createFile(atPath: out, contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: out)
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    var values: [String: String] = [:]
    for line in ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1)
      if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
    }
    return (process.terminationStatus, values)
  }

  static func count(_ ledger: CrashTests.ProcessLedger, _ sql: String) async throws -> Int {
    Int(try await ReconciliationPipelineTests.integer(ledger, sql) ?? -1)
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func gatewayEventsArriveExactlyOnceBesideTheServersAndHostileOnesAreQuarantined(backend: LedgerBackendKind) async throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 server-secret-0001-tradetap\n\(Self.gatewayId) gateway-secret-0501-tradetap\n", token: Harness.token)
    for (file, secret) in [("server-secret", "server-secret-0001-tradetap"), ("gateway-secret", "gateway-secret-0501-tradetap")] {
      try "\(secret)\n".write(toFile: "\(folder)/\(file)", atomically: true, encoding: .utf8)
      chmod("\(folder)/\(file)", 0o600)
    }
    try await CrashTests.ProcessLedger.with(backend, folder: folder) { ledger in
      let host = try Self.compileHost(into: folder)
      let collector = try CollectorProcess(folder: folder, database: ledger.url)
      let (status, values) = try Self.runHost(host, folder: folder, port: collector.protocolPort, run: 1, [
        "--threads", "2", "--requests", "300", "--hostile", "--linger-ms", "3000",
      ])
      #expect(status == 0, "the host died: \(values)")
      let returned = Int(values["hooks_returned"] ?? "") ?? -1
      let requests = Int(values["requests"] ?? "") ?? -1
      let executions = Int(values["executions"] ?? "") ?? -1
      #expect(requests == 600 && values["hostile"] == "24" && returned == 2 * requests + 2 * executions + 24)

      let gw = "FROM events WHERE server_id = \(Self.gatewayId)"
      let delivered = try await ImpossibleBookTests.eventually(30) {
        let events = try await Self.count(ledger, "SELECT count(*) \(gw)")
        let deals = try await Self.count(ledger, "SELECT count(*) FROM deals WHERE server_id = 1")
        return events >= returned && deals >= requests
      }
      let arrived = try await Self.count(ledger, "SELECT count(*) \(gw)")
      #expect(delivered, "gateway events: \(arrived) of \(returned)")

      // Exactly once: one row per sequence 1...n, no gap, no hole.
      #expect(try await Self.count(ledger, "SELECT count(*) \(gw)") == returned)
      #expect(try await Self.count(ledger, "SELECT max(seq) \(gw)") == returned)
      #expect(try await Self.count(ledger, "SELECT count(*) FROM gaps WHERE server_id = \(Self.gatewayId)") == 0)
      // Each kind as the host fired it (hostile: 10 locks, 4 answers, 8 executions, 2 acks).
      #expect(try await Self.count(ledger, "SELECT count(*) \(gw) AND kind = 'dealer_lock'") == requests + 10)
      #expect(try await Self.count(ledger, "SELECT count(*) \(gw) AND kind = 'dealer_answer'") == requests + 4)
      #expect(try await Self.count(ledger, "SELECT count(*) \(gw) AND kind = 'execution'") == executions + 8)
      #expect(try await Self.count(ledger, "SELECT count(*) \(gw) AND kind = 'execution_ack'") == executions + 2)
      // Every execution once, by its id (the summary names it); one hostile one is valid.
      let distinctExecutions = try await Self.count(
        ledger, "SELECT count(DISTINCT summary) \(gw) AND kind = 'execution' AND summary LIKE 'execution %'")
      #expect(distinctExecutions == executions + 1, "\(distinctExecutions) distinct of \(executions) + 1")
      // The hostile records are quarantined, not dropped: 19 of the 24.
      let quarantined = try await Self.count(ledger, "SELECT count(*) FROM quarantine WHERE server_id = \(Self.gatewayId)")
      let quarantineEvents = try await Self.count(ledger, "SELECT count(*) \(gw) AND summary LIKE 'quarantine %'")
      #expect(quarantined == 19 && quarantineEvents == 19, "\(quarantined) quarantine rows, \(quarantineEvents) quarantine events")
      // The server instance beside it fed its own source.
      #expect(try await Self.count(ledger, "SELECT count(*) FROM deals WHERE server_id = 1") == requests)
      #expect(try await Self.count(ledger, "SELECT count(*) FROM events WHERE server_id = 1") == requests)

      // A restarted gateway resumes at the collector's durable sequence: nothing twice.
      let (again, second) = try Self.runHost(host, folder: folder, port: collector.protocolPort, run: 2, [
        "--threads", "1", "--requests", "10", "--linger-ms", "2000",
      ])
      #expect(again == 0)
      let more = Int(second["hooks_returned"] ?? "") ?? -1
      let resumed = try await ImpossibleBookTests.eventually(20) {
        try await Self.count(ledger, "SELECT count(*) \(gw)") >= returned + more
      }
      #expect(resumed)
      #expect(try await Self.count(ledger, "SELECT count(*) \(gw)") == returned + more)
      #expect(try await Self.count(ledger, "SELECT max(seq) \(gw)") == returned + more)

      collector.signal(SIGTERM)
      #expect(collector.wait() == 0, "the collector did not survive the gateway's events")
      // A gateway keeps no book: the sweep has nothing to ask it, and that is no failure.
      let log = (try? String(contentsOfFile: folder + "/collector.log", encoding: .utf8)) ?? ""
      let abandoned = log.split(separator: "\n").filter { $0.contains("abandoned") && $0.contains("server_id=\(Self.gatewayId)") }
      #expect(abandoned.isEmpty, "\(abandoned.prefix(2))")
    }
  }
}
