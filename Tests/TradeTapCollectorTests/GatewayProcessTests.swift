import Foundation
import Glibc
import Testing
import TradeTapCollector

/// The gateway model with real processes (issue 11, items 2 and 3): `tradetap gateway`
/// (the real `.so` loaded through the gateway ABI) and `tradetap sim --gateway` (the
/// real `.so` loaded as a server plugin, MT5, hedging and netting groups) feed one
/// real `tradetap collector`. The server's deals with an external id equal the
/// gateway's fills one to one, and the ledger holds every execution exactly once
/// under the gateway's id, also when the gateway is killed with SIGKILL mid-stream.
@Suite("Gateway processes: tradetap gateway + sim --gateway + one collector", .serialized)
struct GatewayProcessTests {
  static let gatewayId = 501
  static let serverSecret = "server-secret-0001-tradetap"
  static let gatewaySecret = "gateway-secret-0501-tradetap"

  /// A `tradetap` child process whose stdout goes to a file.
  final class Child {
    let process = Process()
    let output: String

    init(_ arguments: [String], folder: String, name: String, environment: [String: String] = [:]) throws {
      output = "\(folder)/\(name).out"
      FileManager.default.createFile(atPath: output, contents: nil)
      FileManager.default.createFile(atPath: "\(folder)/\(name).err", contents: nil)
      process.executableURL = URL(fileURLWithPath: try CollectorProcess.executable())
      process.arguments = arguments
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
      process.standardOutput = FileHandle(forWritingAtPath: output)
      process.standardError = FileHandle(forWritingAtPath: "\(folder)/\(name).err")
      try process.run()
    }

    var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    /// Waits until stdout has a line starting with `prefix`; that line.
    func line(_ prefix: String, within seconds: Double = 30) -> String? {
      let deadline = Date().addingTimeInterval(seconds)
      while Date() < deadline {
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
        if !process.isRunning { return nil }
        usleep(20_000)
      }
      return nil
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    func wait() -> Int32 {
      process.waitUntilExit()
      return process.terminationStatus
    }
  }

  /// One run's folder: the collector's secrets, the plugins' secret files.
  static func prepare() throws -> String {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(
      folder: folder, secrets: "1 \(serverSecret)\n\(gatewayId) \(gatewaySecret)\n", token: Harness.token)
    for (file, secret) in [("server-secret", serverSecret), ("gateway-secret", gatewaySecret)] {
      try "\(secret)\n".write(toFile: "\(folder)/\(file)", atomically: true, encoding: .utf8)
      chmod("\(folder)/\(file)", 0o600)
    }
    return folder
  }

  static func pluginArguments(collectorPort: Int, folder: String, role: String) throws -> [String] {
    var arguments = ["--plugin", try PipelineTests.artifact("libTradeTapPlugin.so")]
    for parameter in [
      "Collector=127.0.0.1:\(collectorPort)", "TLS=off", "Heartbeat.Seconds=1",
      "SecretFile=\(folder)/\(role)-secret", "Journal.Path=\(folder)/\(role)-journal",
    ] { arguments += ["--param", parameter] }
    return arguments
  }

  static func startGateway(port: Int, collectorPort: Int, folder: String, name: String, lp: [String],
                           environment: [String: String] = [:]) throws -> Child {
    let child = try Child(
      ["gateway", "--listen", "127.0.0.1:\(port)", "--gateway-id", "\(gatewayId)", "--store", "\(folder)/gateway-store",
       "--state-out", "\(folder)/gateway-state.json", "--journal", "\(folder)/gateway-journal.log"]
        + lp + pluginArguments(collectorPort: collectorPort, folder: folder, role: "gateway"),
      folder: folder, name: name, environment: environment)
    guard child.line("gateway: \(gatewayId) on") != nil else {
      throw CollectorProcess.ProcessError.unexpectedOutput("gateway did not start: \(child.text)")
    }
    return child
  }

  static func startSim(gatewayPort: Int, collectorPort: Int, folder: String, seconds: Int, seed: Int,
                       extra: [String] = []) throws -> Child {
    try Child(
      ["sim", "--platform", "mt5", "--margin", "mixed", "--accounts", "40", "--threads", "2", "--rate", "400",
       "--duration", "\(seconds)s", "--seed", "\(seed)", "--gateway", "127.0.0.1:\(gatewayPort)",
       "--gateway-groups", "real\\hedging,real\\netting", "--state-out", "\(folder)/sim-state.json",
       "--journal", "\(folder)/sim-journal.log", "--linger", "4s"] + extra
        + pluginArguments(collectorPort: collectorPort, folder: folder, role: "server"),
      folder: folder, name: "sim")
  }

  static func json(_ path: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
    return object as? [String: Any] ?? [:]
  }

  /// What the two state files say, compared: fills against deals with an external id.
  struct Books {
    var executions: [[String: Any]] = []
    var fills: [String: [String: Any]] = [:]
    var rejects = 0
    var dealsWithExternalID: [String: [String: Any]] = [:]
    var duplicateExternalIDs = 0
    var mismatches: [String] = []
    var partialRequests = 0
    var hedgingFills = 0
    var nettingFills = 0
    var lastExecution = 0

    init(folder: String) throws {
      let gateway = try GatewayProcessTests.json("\(folder)/gateway-state.json")
      let sim = try GatewayProcessTests.json("\(folder)/sim-state.json")
      executions = gateway["executions"] as? [[String: Any]] ?? []
      var fillsPerRequest: [Int: Int] = [:]
      for e in executions {
        lastExecution = max(lastExecution, e["execution_id"] as? Int ?? 0)
        if e["action"] as? Int == 2 {
          fills[e["deal_external_id"] as? String ?? ""] = e
          fillsPerRequest[e["request_id"] as? Int ?? 0, default: 0] += 1
        } else if e["action"] as? Int == 3 {
          rejects += 1
        }
      }
      partialRequests = fillsPerRequest.values.filter { $0 > 1 }.count
      let groups = Dictionary(
        (sim["accounts"] as? [[String: Any]] ?? []).map { ($0["login"] as? Int ?? 0, $0["group"] as? String ?? "") },
        uniquingKeysWith: { a, _ in a })
      for deal in sim["deals"] as? [[String: Any]] ?? [] {
        guard let external = deal["external_id"] as? String, !external.isEmpty else { continue }
        if dealsWithExternalID[external] != nil { duplicateExternalIDs += 1 }
        dealsWithExternalID[external] = deal
        let group = groups[deal["login"] as? Int ?? 0] ?? ""
        if group.hasSuffix("hedging") { hedgingFills += 1 } else if group.hasSuffix("netting") { nettingFills += 1 }
      }
      for (external, fill) in fills {
        guard let deal = dealsWithExternalID[external] else { mismatches.append("fill \(external) without deal"); continue }
        for (dealKey, fillKey) in [("order", "order"), ("volume_ext", "deal_volume_ext"), ("login", "login")]
        where deal[dealKey] as? Int != fill[fillKey] as? Int {
          mismatches.append("\(external): \(dealKey) \(deal[dealKey] ?? "-") vs \(fill[fillKey] ?? "-")")
        }
        if deal["price"] as? String != fill["deal_price"] as? String {
          mismatches.append("\(external): price \(deal["price"] ?? "-") vs \(fill["deal_price"] ?? "-")")
        }
      }
      for external in dealsWithExternalID.keys where fills[external] == nil {
        mismatches.append("deal \(external) without fill")
      }
    }
  }

  /// The ledger's gateway side: execution ids (one per `execution` event), and the
  /// highest id acknowledged.
  static func ledgerExecutionIDs(_ ledger: CrashTests.ProcessLedger) async throws -> [Int64] {
    try await ReconciliationPipelineTests.integers(ledger, """
      SELECT CAST(substr(summary, 11, instr(substr(summary, 11), ' ') - 1) AS INTEGER) FROM events
      WHERE server_id = \(gatewayId) AND kind = 'execution' ORDER BY 1
      """)
  }

  /// Checks both books and the ledger once the gateway has written its state.
  static func checkExactlyOnce(folder: String, ledger: CrashTests.ProcessLedger) async throws -> Books {
    let books = try Books(folder: folder)
    #expect(!books.fills.isEmpty && books.fills.count == books.dealsWithExternalID.count,
            "\(books.fills.count) fills, \(books.dealsWithExternalID.count) deals with an external id")
    #expect(books.mismatches.isEmpty, "\(books.mismatches.prefix(10))")
    #expect(books.duplicateExternalIDs == 0)
    // Ids strictly increasing, never reused.
    let ids = books.executions.compactMap { $0["execution_id"] as? Int }
    #expect(ids == Array(1...max(1, ids.count)) || ids.isEmpty)

    // The ledger: every execution once, under the gateway's id as source.
    let expected = ids.map(Int64.init)
    let arrived = try await ImpossibleBookTests.eventually(45) {
      try await ledgerExecutionIDs(ledger).count >= expected.count
    }
    let inLedger = try await ledgerExecutionIDs(ledger)
    #expect(arrived && inLedger == expected,
            "ledger: \(inLedger.count) execution events, \(Set(inLedger).count) distinct, gateway stored \(expected.count)")
    // The `executions` table: one row per stored execution id (its platform key), and
    // each fill's row matches one of the server's deals on (server, order,
    // external id), volume and price.
    let rows = try await ReconciliationPipelineTests.integers(
      ledger, "SELECT execution_id FROM executions WHERE gateway_id = \(gatewayId) ORDER BY 1")
    #expect(rows == expected, "executions table: \(rows.count) rows, gateway stored \(expected.count)")
    let fillRows = try await ImpossibleBookTests.integer(
      ledger, "SELECT count(*) FROM executions WHERE gateway_id = \(gatewayId) AND action = 2")
    #expect(fillRows == books.fills.count, "executions table: \(fillRows) fills, gateway \(books.fills.count)")
    // The server's deals reached the ledger with their external ids.
    let dealsArrived = try await ImpossibleBookTests.eventually(30) {
      try await ImpossibleBookTests.integer(ledger, "SELECT count(*) FROM deals WHERE server_id = 1 AND external_id != ''")
        >= books.fills.count
    }
    let ledgerDeals = try await ImpossibleBookTests.integer(
      ledger, "SELECT count(DISTINCT external_id) FROM deals WHERE server_id = 1 AND external_id != ''")
    #expect(dealsArrived && ledgerDeals == books.fills.count, "ledger deals with an external id: \(ledgerDeals)")
    let matched = try await ImpossibleBookTests.integer(ledger, """
      SELECT count(*) FROM executions x JOIN deals d ON d.server_id = x.server_id AND d."order" = x."order"
        AND d.external_id = x.deal_external_id AND d.volume_ext = x.deal_volume_ext AND d.price = x.deal_price
      WHERE x.gateway_id = \(gatewayId) AND x.action = 2
      """)
    #expect(matched == books.fills.count, "fills matching their deal in the ledger: \(matched) of \(books.fills.count)")
    // The ledger's own cross-check (docs/reconciliation.md, "Gateway against server")
    // finds every fill matched and no deal of a routed order without its fill.
    let cross = try await ledger.inspect { try await $0.crossCheckGateways(grace: .zero) }
    #expect(cross.mismatches.isEmpty && cross.fillsCompared == books.fills.count,
            "cross-check: \(cross.fillsCompared) fills compared, mismatches \(cross.mismatches.prefix(10))")
    // The server confirmed every execution; the confirmations reached the ledger.
    let acked = try await ImpossibleBookTests.integer(ledger, """
      SELECT max(CAST(substr(summary, instr(summary, 'through ') + 8) AS INTEGER)) FROM events
      WHERE server_id = \(gatewayId) AND kind = 'execution_ack'
      """)
    #expect(acked == books.lastExecution, "acknowledged through \(acked), last execution \(books.lastExecution)")
    // The server's whole state (accounts, deals with the routed ones, positions) equals the ledger.
    var report = ""
    let clean = try await ImpossibleBookTests.eventually(30) {
      let (status, output) = try PipelineTests.tradetap(["verify", "--state", "\(folder)/sim-state.json", "--database", ledger.url])
      report = output
      return status == 0
    }
    #expect(clean, "verify: \(report.suffix(600))")
    return books
  }

  @Test func fillsBecomeDealsOneToOneAndTheLedgerHoldsEveryExecutionOnce() async throws {
    let folder = try Self.prepare()
    try await CrashTests.ProcessLedger.with(.sqlite, folder: folder) { ledger in
      let collector = try CollectorProcess(folder: folder, database: ledger.url)
      defer { collector.signal(SIGTERM); _ = collector.wait() }
      let port = try CollectorProcess.freePort()
      let started = Date()
      let gateway = try Self.startGateway(
        port: port, collectorPort: collector.protocolPort, folder: folder, name: "gateway-1",
        lp: ["--latency", "1ms..15ms", "--partial-rate", "30%", "--reject-rate", "10%", "--slippage-points", "5",
             "--seed", "7"])
      let sim = try Self.startSim(gatewayPort: port, collectorPort: collector.protocolPort, folder: folder, seconds: 5, seed: 3)
      #expect(sim.wait() == 0, "sim: \(sim.text)")
      gateway.signal(SIGINT)
      #expect(gateway.wait() == 0, "gateway: \(gateway.text)")
      let books = try await Self.checkExactlyOnce(folder: folder, ledger: ledger)
      #expect(books.rejects > 0 && books.partialRequests > 0, "\(books.rejects) rejects, \(books.partialRequests) partial")
      #expect(books.hedgingFills > 0 && books.nettingFills > 0, "\(books.hedgingFills) hedging, \(books.nettingFills) netting")
      // Each reject canceled its order: the sim waits for nothing.
      #expect(sim.text.contains("0 still waiting"), "\(sim.text)")
      print("figures: gateway end to end: \(books.fills.count) fills (\(books.partialRequests) requests in several), "
        + "\(books.rejects) rejects, \(books.hedgingFills) hedging / \(books.nettingFills) netting deals, "
        + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
  }

  @Test func gatewayKilledFiveTimesMidStreamLosesAndDoublesNoFill() async throws {
    let folder = try Self.prepare()
    try await CrashTests.ProcessLedger.with(.sqlite, folder: folder) { ledger in
      let collector = try CollectorProcess(folder: folder, database: ledger.url)
      defer { collector.signal(SIGTERM); _ = collector.wait() }
      let port = try CollectorProcess.freePort()
      let lp = ["--latency", "2ms..30ms", "--partial-rate", "40%", "--reject-rate", "5%", "--slippage-points", "3",
                "--seed", "11"]
      let started = Date()
      // Each execution is sent 150 ms after it is durable, so every kill leaves stored
      // executions the server has not received: the restarted gateway must resend them.
      let delay = ["TRADETAP_GATEWAY_SEND_DELAY_MS": "150"]
      var gateway = try Self.startGateway(port: port, collectorPort: collector.protocolPort, folder: folder,
                                          name: "gateway-1", lp: lp, environment: delay)
      let sim = try Self.startSim(gatewayPort: port, collectorPort: collector.protocolPort, folder: folder, seconds: 10, seed: 5)
      var storedBeforeKills: [Int] = []
      for kill in 1...5 {
        usleep(1_400_000)
        gateway.signal(SIGKILL)
        #expect(gateway.wait() == SIGKILL)
        storedBeforeKills.append(Self.storedExecutions(folder: folder))
        usleep(200_000)  // the server keeps trading; its routed orders wait
        gateway = try Self.startGateway(port: port, collectorPort: collector.protocolPort, folder: folder,
                                        name: "gateway-\(kill + 1)", lp: lp, environment: delay)
      }
      #expect(sim.wait() == 0, "sim: \(sim.text)")
      gateway.signal(SIGINT)
      #expect(gateway.wait() == 0, "gateway: \(gateway.text)")
      let books = try await Self.checkExactlyOnce(folder: folder, ledger: ledger)
      // Each kill happened mid-stream: executions were stored before and after it.
      #expect(zip(storedBeforeKills, storedBeforeKills.dropFirst()).allSatisfy { $0 < $1 } && storedBeforeKills[0] > 0,
              "stored before each kill: \(storedBeforeKills)")
      #expect(storedBeforeKills.last! < books.executions.count)
      #expect(sim.text.contains("0 still waiting") && sim.text.contains("6 connection(s)"), "\(sim.text)")
      // What the restarts did (the gateway's journal): executions resent on each
      // reconnection, requests finished for the rest after a kill between their fills.
      let journal = (try? String(contentsOfFile: "\(folder)/gateway-journal.log", encoding: .utf8)) ?? ""
      let resent = journal.split(separator: "\n").compactMap { line -> Int? in
        guard let range = line.range(of: #"resent \d+ execution"#, options: .regularExpression) else { return nil }
        return Int(line[range].split(separator: " ")[1])
      }
      let continued = journal.split(separator: "\n").filter { $0.contains(" continued: ") }.count
      #expect(resent.count == 6 && resent.dropFirst().allSatisfy { $0 > 0 }, "resent on each connection: \(resent)")
      print("figures: gateway kill -9 x5: \(books.fills.count) fills, \(books.rejects) rejects, "
        + "stored before each kill \(storedBeforeKills), resent on each connection \(resent), "
        + "\(continued) request(s) finished after a kill between their fills, "
        + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
  }

  /// The server's side of the rule: a trade server killed with SIGKILL mid-stream and
  /// started again on the same `--gateway-store` says hello with its durable last
  /// processed id; the gateway resends only what lies above it, the new server
  /// applies none at or below it (and none of the dead server's requests: its orders
  /// died with it, as the simulator keeps no trading state on disk), numbers its own
  /// requests in a new epoch, and every fill of its own requests is one of its deals.
  @Test func aRestartedServerNeitherLosesNorReappliesAnExecution() async throws {
    let folder = try Self.prepare()
    try await CrashTests.ProcessLedger.with(.sqlite, folder: folder) { ledger in
      let collector = try CollectorProcess(folder: folder, database: ledger.url)
      defer { collector.signal(SIGTERM); _ = collector.wait() }
      let port = try CollectorProcess.freePort()
      let gateway = try Self.startGateway(
        port: port, collectorPort: collector.protocolPort, folder: folder, name: "gateway-1",
        lp: ["--latency", "5ms..40ms", "--partial-rate", "40%", "--reject-rate", "5%", "--seed", "13"])
      let store = "\(folder)/server.gateway"
      let first = try Self.startSim(gatewayPort: port, collectorPort: collector.protocolPort, folder: folder, seconds: 30,
                                    seed: 8, extra: ["--gateway-store", store])
      usleep(2_500_000)
      first.signal(SIGKILL)
      #expect(first.wait() == SIGKILL)
      let durable = Self.durableLastProcessed(store)
      #expect(durable > 0)
      let second = try Self.startSim(gatewayPort: port, collectorPort: collector.protocolPort, folder: folder, seconds: 3,
                                     seed: 9, extra: ["--gateway-store", store])
      #expect(second.wait() == 0, "sim: \(second.text)")
      gateway.signal(SIGINT)
      #expect(gateway.wait() == 0, "gateway: \(gateway.text)")
      let books = try Books(folder: folder)
      // The new server's requests are epoch 2; its fills and its deals are one to one.
      let ownFills = books.fills.filter { (($0.value["request_id"] as? Int) ?? 0) >> 32 == 2 }
      #expect(!ownFills.isEmpty && Set(ownFills.keys) == Set(books.dealsWithExternalID.keys),
              "\(ownFills.count) fills of the new server's requests, \(books.dealsWithExternalID.count) deals")
      // No execution at or below the durable id was applied again: the journal of
      // the gateway shows the hello, and every deal's fill lies above the durable id.
      let journal = (try? String(contentsOfFile: "\(folder)/gateway-journal.log", encoding: .utf8)) ?? ""
      #expect(journal.contains("processed through execution \(durable);"), "durable \(durable)")
      #expect(second.text.contains(" 0 duplicates dropped"), "\(second.text)")
      #expect(ownFills.values.allSatisfy { ($0["execution_id"] as? Int ?? 0) > durable })
      #expect(Self.durableLastProcessed(store) == UInt64(books.lastExecution))
      #expect(second.text.contains("0 still waiting"), "\(second.text)")
      // The ledger still holds each execution once.
      let expected = books.executions.compactMap { ($0["execution_id"] as? Int).map(Int64.init) }
      let arrived = try await ImpossibleBookTests.eventually(45) { try await Self.ledgerExecutionIDs(ledger).count >= expected.count }
      let inLedger = try await Self.ledgerExecutionIDs(ledger)
      #expect(arrived && inLedger == expected, "ledger \(inLedger.count), stored \(expected.count)")
      print("figures: server kill -9: durable last processed \(durable), \(books.executions.count) executions stored, "
        + "\(ownFills.count) fills for the restarted server, all booked once")
    }
  }

  static func durableLastProcessed(_ path: String) -> UInt64 {
    guard let data = FileManager.default.contents(atPath: path), data.count >= 8 else { return 0 }
    return data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
  }

  /// Whole records in the gateway's execution store right now.
  static func storedExecutions(folder: String) -> Int {
    let size = (try? FileManager.default.attributesOfItem(atPath: "\(folder)/gateway-store/executions.dat")[.size] as? Int) ?? 0
    return (size ?? 0) / 400
  }
}
