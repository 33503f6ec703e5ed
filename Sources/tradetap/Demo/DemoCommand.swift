import ArgumentParser
import Foundation
import TradeTapCollector
import TradeTapLedger
import TradeTapVerify

/// `tradetap demo`: the whole pipeline on one machine with embedded defaults.
///
/// It runs the real pieces as real processes: `tradetap collector` (SQLite ledger,
/// TLS with a throwaway certificate, generated secrets) and `tradetap sim` with the
/// plugin `.so` loaded through the C ABI; it shows progress while they run, then
/// compares the simulated server's final state with the ledger.
struct DemoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Runs collector + simulated trade server + plugin on this machine and verifies the ledger."
  )

  @Option(help: "Working folder (recreated on each run).")
  var dir = "./tradetap-demo"
  @Option(help: "How long the trade server trades (500ms, 30s, 5m). Default 10s, or 1s with --rate 0.")
  var duration: String?
  @Option(help: "Events per second offered to the hooks; 0 = as fast as possible.")
  var rate = 5000
  @Option(help: "Server dialect: mt4 or mt5.")
  var platform = "mt5"
  @Option(help: "Accounts created at start.")
  var accounts = 200
  @Option(help: "Host threads firing hooks at once.")
  var threads = 2
  @Option(help: "Seed that makes the run repeatable.")
  var seed = 1
  @Option(help: "The plugin .so (default: libTradeTapPlugin.so next to this executable).")
  var plugin: String?
  @Flag(help: "Keep the collector (and its HTTP API) running after the summary, until Ctrl-C.")
  var serve = false
  @Flag(help: "Also push the ledger's changes to a signed webhook: the demo runs the receiver, which checks every signature and applies each change once by id (docs/outputs.md).")
  var webhook = false
  @Flag(name: .customLong("nats-cluster"), help: "Also publish the ledger's changes to a throwaway 3-node NATS JetStream cluster (R3 stream; needs nats-server).")
  var natsCluster = false

  /// At full speed the simulated server offers ~1 M events/s, far above what a ledger
  /// makes durable: the journal overflows and reconciliation heals the rest from the
  /// server's state, which takes minutes for a multi-million-deal book. One second
  /// shows that path in about a minute; a longer --duration is the user's choice.
  var tradingTime: String { duration ?? (rate == 0 ? "1s" : "10s") }

  func validate() throws {
    guard ["mt4", "mt5"].contains(platform) else { throw ValidationError("--platform must be mt4 or mt5") }
    guard rate >= 0 else { throw ValidationError("--rate must be 0 or positive") }
    do {
      guard try FlagDuration(tradingTime, flag: "--duration").nanoseconds > 0 else {
        throw ValidationError("--duration must be above 0")
      }
    } catch let refusal as FlagDuration.Refusal {
      throw ValidationError(refusal.description)
    }
  }

  func run() async throws {
    do { try await runDemo() } catch let failure as DemoFailure {
      FileHandle.standardError.write(Data("demo: \(failure.description)\n".utf8))
      throw ExitCode(1)
    }
  }

  private func runDemo() async throws {
    let pluginPath = try locatePlugin()
    let serverID: UInt32 = 1
    let files = try DemoMaterials.prepare(folder: dir, serverID: serverID)
    say("demo: working folder \(files.folder.path)")
    var outputs = DemoOutputs()
    defer { outputs.stop() }
    if webhook {
      outputs.webhook = try DemoWebhookReceiver(secret: Array(files.webhookSecret.utf8))
      say("demo: webhook receiver on \(outputs.webhook!.url) (checks signatures, applies changes once by id)")
    }
    if natsCluster {
      let cluster = try DemoNATSCluster(folder: files.folder)
      outputs.nats = cluster
      try await cluster.waitReady()
      say("demo: NATS JetStream cluster of 3 nodes on \(cluster.urls)")
    }

    let collector = try ChildProcess(
      name: "collector",
      arguments: [
        "collector", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
        "--database", LedgerLocation.sqlite(path: files.ledger).argument, "--secrets", files.secretsFile,
        "--tls-cert", files.certificate, "--tls-key", files.privateKey,
        "--api-token-file", files.apiTokenFile, "--api-write-token-file", files.apiWriteTokenFile,
        "--reconcile-every", "1m",
      ] + outputs.collectorArguments(webhookSecretFile: files.webhookSecretFile),
      logFile: files.collectorLog)
    let listening = try await collector.waitForLine(prefix: "listening ", timeout: .seconds(30), log: files.collectorLog)
    let endpoints = Endpoints(listeningLine: listening)
    guard let protocolAddress = endpoints.protocolAddress, let http = endpoints.http else {
      await collector.terminate()
      throw DemoFailure("the collector printed an unexpected line: \(listening)")
    }
    say("demo: collector listening on \(protocolAddress) (TLS 1.3), HTTP API on \(http.host):\(http.port)")
    let probe = CollectorProbe(host: http.host, port: http.port, token: files.apiToken)

    let sim = try ChildProcess(
      name: "sim",
      arguments: [
        "sim", "--plugin", pluginPath,
        "--param", "Collector=\(protocolAddress)", "--param", "SecretFile=\(files.pluginSecretFile)",
        "--param", "TLS=on", "--param", "TLS.CAFile=\(files.certificate)", "--param", "TLS.ServerName=localhost",
        "--param", "Journal.Path=\(files.journal)", "--param", "Journal.SizeMB=64",
        "--platform", platform, "--server-id", String(serverID), "--accounts", String(accounts),
        "--rate", String(rate), "--duration", tradingTime, "--threads", String(threads), "--seed", String(seed),
        "--state-out", files.state, "--journal", files.hostLog, "--linger", "10m",
      ],
      logFile: files.folder.appendingPathComponent("sim.stderr").path)
    say("demo: trade server (\(platform), \(accounts) accounts) trading for \(tradingTime) at \(rate == 0 ? "full speed" : "\(rate) events/s")")

    let progress = DemoProgress(probe: probe)
    // The sim writes its state, then lingers (plugin loaded, answering reconciliation)
    // until the ledger has caught up; then the demo interrupts it.
    var lingering = false
    while sim.isRunning && !lingering {
      try await Task.sleep(for: .seconds(1))
      let lines = sim.takeLines()
      lingering = lines.contains { $0.hasPrefix("sim: lingering ") }
      progress.observe(simLines: lines)
      say(progress.line())
    }
    var catchUp: LedgerCatchUp?
    var deposit: String?
    if lingering {
      catchUp = try await waitForLedger(
        progress: progress, sim: sim, ledger: files.ledger, serverID: serverID, desk: probe)
      // Money in: the CRM deposits through the write API while the plugin is still loaded.
      do {
        deposit = try await DemoDeposit(
          desk: CollectorProbe(host: http.host, port: http.port, token: files.apiWriteToken), serverID: serverID,
          ledgerPath: files.ledger
        ).run()
        say(deposit!)
      } catch {
        sim.interrupt()
        await collector.terminate()
        throw error
      }
      sim.interrupt()
      if await !sim.waitForExit(timeout: .seconds(60)) {
        say("demo: tradetap sim did not exit 60 s after SIGINT; terminating it")
        await sim.terminate()
      }
    }
    try await Task.sleep(for: .milliseconds(100))  // the last lines still in the pipe
    // The summary needs a fresh sample (a busy collector may miss the probe's 2 s).
    var sampled = progress.observe(simLines: sim.takeLines())
    for _ in 0..<5 where !sampled { sampled = progress.observe(simLines: []) }
    guard sim.exitStatus == 0 else {
      await collector.terminate()
      throw DemoFailure("tradetap sim failed with status \(sim.exitStatus); see \(files.hostLog)")
    }
    say(progress.line())

    let report: VerifyReport
    let changes: (last: Int64, count: Int)
    do {
      let state = try PlatformState.load(path: files.state)
      let ledger = try await LedgerBackend.open(.sqlite(path: files.ledger), access: .read)
      defer { Task { await ledger.close() } }
      report = try await LedgerVerifier.verify(state, store: ledger, serverID: Int64(serverID))
      changes = (try await ledger.lastChangeId(), try await ledger.rowCount(.changes))
    } catch {
      await collector.terminate()
      throw DemoFailure("verify could not compare: \(error)")
    }
    for divergence in report.divergences.prefix(20) { say("divergence: \(divergence)") }
    let (outputLines, outputsComplete) = try await outputSummary(outputs, desk: probe, changes: changes)

    say("")
    say("== TradeTap demo summary")
    say(progress.summary())
    if let catchUp, catchUp.refused > 0 {
      say("journal overflow: \(catchUp.refused) events refused by the plugin's full journal (Journal.SizeMB=64) in "
        + "\(catchUp.gaps) gap(s), \(catchUp.openGaps == 0 ? "all healed by reconciliation" : "\(catchUp.openGaps) not healed")")
    }
    if let deposit { say(deposit.replacingOccurrences(of: "demo: ", with: "money in: ")) }
    say(report.summary)
    for line in outputLines { say(line) }
    say("ledger (SQLite, the schema is in docs/ledger.md):  sqlite3 \(files.ledger) 'select * from accounts limit 5'")
    say("collector log: \(files.collectorLog)    trade server journal: \(files.hostLog)")
    if serve {
      let base = "http://\(http.host):\(http.port)"
      say("CRM HTTP API (docs/api.md), Ctrl-C to stop:")
      say("  curl -H 'Authorization: Bearer \(files.apiToken)' \(base)/v1/servers")
      say("  curl -H 'Authorization: Bearer \(files.apiToken)' '\(base)/v1/changes?limit=5'")
      await collector.waitForExit()
    } else {
      say("to try the CRM HTTP API (docs/api.md): run `tradetap demo --serve`; it prints curl lines such as")
      say("  curl -H \"Authorization: Bearer $(cat \(files.apiTokenFile))\" http://127.0.0.1:PORT/v1/servers")
      await collector.terminate()
    }
    if !report.divergences.isEmpty || !outputsComplete { throw ExitCode(1) }
  }

  /// Waits for the outputs to deliver the ledger's last change, then says what each
  /// destination holds: every change exactly once is the claim (docs/outputs.md).
  private func outputSummary(
    _ outputs: DemoOutputs, desk: CollectorProbe, changes: (last: Int64, count: Int)
  ) async throws -> (lines: [String], complete: Bool) {
    guard !outputs.isEmpty else { return ([], true) }
    let readings = try await outputs.waitUntilCaughtUp(desk: desk, lastChangeId: changes.last, say: say)
    var lines = readings.map(DemoOutputs.line)
    var complete = readings.allSatisfy { $0.cursor >= changes.last }
    if let receiver = outputs.webhook {
      let tally = receiver.tally
      lines.append("webhook receiver: \(tally.applied.count) of the ledger's \(changes.count) changes applied, each once by id "
        + "(\(tally.duplicates) resent ones dropped); \(tally.requests) signed requests, \(tally.badSignatures) bad signatures")
      complete = complete && tally.applied.count == changes.count && tally.badSignatures == 0
    }
    if let cluster = outputs.nats {
      if let stream = cluster.stream("TRADETAP") {
        lines.append("NATS JetStream: stream TRADETAP holds \(stream.messages) of the ledger's \(changes.count) changes, "
          + "R3 on 3 nodes (leader \(stream.leader))")
        complete = complete && stream.messages == changes.count
      } else {
        lines.append("NATS JetStream: no node reports stream TRADETAP; see collector.log")
        complete = false
      }
    }
    return (lines, complete)
  }

  /// Waits until the ledger accounts for every event the hooks received (the
  /// plugin's journal is drained: each one is an `events` row or inside an overflow
  /// gap) and no gap is still open (the sweep the collector runs after a gap has
  /// healed it). Returns the last reading; after `timeout` it says what was missing
  /// and returns, so the verify below shows the consequences.
  ///
  /// A sweep held over `--reconcile-max-deletions` (a full-speed run overflows the
  /// journal on purpose, and healing it closes many positions) is applied here the way
  /// an operator would, after saying why, so the demo shows the hold instead of hiding it.
  private func waitForLedger(
    progress: DemoProgress, sim: ChildProcess, ledger: String, serverID: UInt32, desk: CollectorProbe,
    timeout: Duration = .seconds(300)
  ) async throws -> LedgerCatchUp? {
    // 300 s: after a full-speed run the sweep that heals the overflow reads and
    // corrects hundreds of thousands of deals (minutes; docs/reconciliation.md), and
    // it may start a little after the linger does.
    let deadline = ContinuousClock.now + timeout
    let failedSweeps = "tradetap_reconciliation_sweeps_failed_total"
    let failedAtStart = progress.metric(failedSweeps) ?? 0
    var nextLine = ContinuousClock.now + .seconds(1)
    // Opened once readable (the collector creates it); a busy read is retried.
    var store: (any LedgerStore)?
    defer { if let store { Task { await store.close() } } }
    var appliedSweeps: Set<Int64> = []
    while true {
      progress.observe(simLines: sim.takeLines())
      if store == nil {
        store = try? await LedgerBackend.open(
          .sqlite(path: ledger), access: .read, sqlite: LedgerConfiguration(busyTimeoutSeconds: 2))
      }
      let catchUp = try? await store?.catchUp(serverId: Int64(serverID))
      var missing: [String] = []
      if let catchUp {
        if catchUp.accounted < progress.fired {
          missing.append("the plugin's journal to drain (\(progress.fired - catchUp.accounted) events not yet in the ledger)")
        }
        if catchUp.openGaps > 0, let held = desk.heldSweep(serverID: serverID), !appliedSweeps.contains(held) {
          appliedSweeps.insert(held)
          say("demo: reconciliation sweep \(held) is held: it would delete or zero more ledger rows than "
            + "--reconcile-max-deletions allows, and such a book is never applied unreviewed (docs/reconciliation.md). "
            + "This run overflowed the journal on purpose, so the demo applies it as an operator would: "
            + "POST /v1/reconciliation/sweeps/\(held)/apply")
          say("demo: sweep \(held) " + (desk.applySweep(held) ? "applied" : "could not be applied; see collector.log"))
        }
        if catchUp.openGaps > 0 {
          let failed = Int((progress.metric(failedSweeps) ?? 0) - failedAtStart)
          missing.append("reconciliation to heal a gap of \(catchUp.openGapEvents) events"
            + (catchUp.openGaps > 1 ? " (\(catchUp.openGaps) gaps)" : "")
            + (failed > 0 ? "; \(failed) sweep(s) abandoned meanwhile, see collector.log" : ""))
        }
      } else {
        missing.append("the ledger to be readable")
      }
      if missing.isEmpty { return catchUp }
      guard sim.isRunning else {
        throw DemoFailure("tradetap sim exited while the demo was waiting for \(missing.joined(separator: " and ")); see \(ledger)")
      }
      if ContinuousClock.now >= deadline {
        say("demo: the ledger did not catch up in \(timeout): still waiting for \(missing.joined(separator: " and ")); verifying anyway")
        return catchUp
      }
      if ContinuousClock.now >= nextLine {
        say(progress.line() + "  waiting for " + missing.joined(separator: " and "))
        nextLine = ContinuousClock.now + .seconds(1)
      }
      try await Task.sleep(for: .milliseconds(250))
    }
  }

  private func locatePlugin() throws -> String {
    if let plugin {
      guard FileManager.default.fileExists(atPath: plugin) else { throw DemoFailure("--plugin \(plugin) does not exist") }
      return plugin
    }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let candidate = executable.deletingLastPathComponent().appendingPathComponent("libTradeTapPlugin.so").path
    guard FileManager.default.fileExists(atPath: candidate) else {
      throw DemoFailure("no plugin at \(candidate): build it with `swift build -c release` (or pass --plugin)")
    }
    return candidate
  }
}

/// The addresses in the collector's `listening protocol=HOST:PORT http=HOST:PORT` line.
struct Endpoints {
  var protocolAddress: String?
  var http: (host: String, port: UInt16)?

  init(listeningLine: String) {
    for field in listeningLine.split(separator: " ") {
      if field.hasPrefix("protocol=") { protocolAddress = String(field.dropFirst("protocol=".count)) }
      if field.hasPrefix("http="), let colon = field.lastIndex(of: ":"), let port = UInt16(field[field.index(after: colon)...]) {
        http = (String(field[field.index(field.startIndex, offsetBy: 5)..<colon]), port)
      }
    }
  }
}
