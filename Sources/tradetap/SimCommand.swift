import ArgumentParser
import Foundation
import Synchronization
import TradeTapCollector
import TradeTapJournal
import TradeTapSimulator

/// `tradetap sim`: the simulated MT4 / MT5 trade server (flags as in the CLI spec).
struct SimCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sim",
    abstract: "Runs a simulated MT4 or MT5 trade server that loads plugins through the C ABI.",
    discussion: """
      Generates a seeded trading day (or replays --scenario), firing the plugin hooks from \
      --threads host threads, and can write the final platform state with --state-out \
      for `tradetap verify`. Prints progress every second and a summary at the end.
      """
  )

  @Option(name: .customLong("plugin"), help: "Plugin .so to load through the C ABI (repeatable).")
  var plugins: [String] = []
  @Option(name: .customLong("param"), help: "Plugin parameter NAME=VALUE (repeatable).")
  var params: [String] = []
  @Option(help: "Server dialect: mt4 or mt5.")
  var platform: String = "mt5"
  @Option(help: "MT5 account groups' margin mode: hedging, netting or mixed.")
  var margin: String = "mixed"
  @Option(name: .customLong("server-id"), help: "Server identity.")
  var serverID: UInt32 = 1
  @Option(name: .customLong("utc-offset"), help: "Broker time offset from UTC, in minutes.")
  var utcOffset: Int32 = 120
  @Option(help: "Accounts created at start.")
  var accounts: Int = 100
  @Option(help: "Events per second offered to the hooks; 0 = as fast as possible.")
  var rate: Double = 1000
  @Option(help: "How long to run (500ms, 30s, 5m). Default 10s unless --events is given.")
  var duration: String?
  @Option(help: "How many events to generate (instead of --duration).")
  var events: Int?
  @Option(help: "Host threads firing hooks at once.")
  var threads: Int = 2
  @Option(help: "Seed that makes the whole run repeatable.")
  var seed: UInt64 = 1
  @Option(help: "Replay a JSON Lines scenario instead of generating (docs/scenarios.md).")
  var scenario: String?
  @Option(name: .customLong("state-out"), help: "Write the server's final state as JSON.")
  var stateOut: String?
  @Option(name: .customLong("miss-events"), help: "Percent of changes applied without calling the hooks.")
  var missEvents: Double = 0
  @Option(help: "The server's own journal file (default: stderr).")
  var journal: String?
  @Option(help: "Keep the plugins loaded this long after the last event before cleanup (lets a plugin deliver its journal), e.g. 5s.")
  var linger: String = "0s"
  @Option(help: "Route market requests of --gateway-groups accounts to this gateway (HOST:PORT; MT5).")
  var gateway: String?
  @Option(name: .customLong("gateway-groups"), help: "Group masks routed to --gateway (`*` wildcard, `!` excludes).")
  var gatewayGroups: String = "*"
  @Option(name: .customLong("gateway-store"), help: "File keeping the last processed execution id (default: STATE-OUT.gateway).")
  var gatewayStore: String?

  /// Checks the flags; an error is one line on stderr (no usage dump) and exit 1.
  func checkFlags() throws {
    guard ["mt4", "mt5"].contains(platform) else { throw SimFailure(message: "--platform must be mt4 or mt5") }
    guard ["hedging", "netting", "mixed"].contains(margin) else {
      throw SimFailure(message: "--margin must be hedging, netting or mixed")
    }
    guard duration == nil || events == nil else { throw SimFailure(message: "give --duration or --events, not both") }
    if let duration { _ = try Self.seconds(duration, flag: "--duration") }
    if let events, events <= 0 { throw SimFailure(message: "--events must be positive") }
    guard threads >= 1, threads <= 256 else { throw SimFailure(message: "--threads must be between 1 and 256") }
    guard accounts >= 1 || scenario != nil else { throw SimFailure(message: "--accounts must be at least 1") }
    guard rate >= 0 else { throw SimFailure(message: "--rate must be 0 or positive") }
    guard (0...100).contains(missEvents) else { throw SimFailure(message: "--miss-events is a percent, 0 to 100") }
    for param in params where !param.contains("=") {
      throw SimFailure(message: "--param \(param) is not NAME=VALUE")
    }
    _ = try Self.seconds(linger, flag: "--linger")
    if let gateway {
      guard GatewayAddress(gateway) != nil else { throw SimFailure(message: "--gateway \(gateway) is not HOST:PORT") }
      guard platform == "mt5" else { throw SimFailure(message: "--gateway needs --platform mt5") }
    }
    if let scenario, !FileManager.default.isReadableFile(atPath: scenario) {
      throw SimFailure(message: "--scenario \(scenario) cannot be read")
    }
  }

  func run() throws {
    try checkFlags()
    var configuration = SimulationConfiguration()
    configuration.plugins = plugins
    for param in params {
      let parts = param.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      configuration.parameters[String(parts[0])] = String(parts[1])
    }
    configuration.platform = platform == "mt4" ? .mt4 : .mt5
    configuration.margin = SimulationConfiguration.MarginChoice(rawValue: margin) ?? .mixed
    configuration.serverID = serverID
    configuration.utcOffsetMinutes = utcOffset
    configuration.accounts = accounts
    configuration.rate = rate
    let seconds = try duration.map { try Self.seconds($0, flag: "--duration") } ?? 10
    configuration.length = events.map { .events($0) } ?? .duration(seconds: seconds)
    configuration.threads = threads
    configuration.seed = seed
    configuration.scenario = scenario
    configuration.missEventsPercent = missEvents
    configuration.journalPath = journal
    configuration.gateway = gateway.flatMap { GatewayAddress($0) }
    configuration.gatewayGroups = gatewayGroups
    configuration.gatewayStorePath = gatewayStore ?? stateOut.map { $0 + ".gateway" }

    let hostJournal: HostJournal
    do { hostJournal = try HostJournal(path: journal) } catch {
      throw SimFailure(message: "--journal \(journal ?? ""): cannot open for writing")
    }
    let server = SimulatedTradeServer(configuration: configuration, journal: hostJournal)
    let loaded = server.loadPlugins()
    say("sim: \(platform) server \(serverID), \(loaded)/\(plugins.count) plugin(s) running, seed \(seed), "
      + "\(server.shards.count) host thread(s)")
    if loaded < plugins.count {
      say("sim: \(plugins.count - loaded) plugin(s) failed to load; reasons are in the journal")
    }

    // SIGINT stops the run early and also ends a --linger at once (`tradetap demo`
    // lingers long and interrupts once its ledger has caught up).
    signal(SIGINT, SIG_IGN)
    let interrupted = DispatchSemaphore(value: 0)
    let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    interrupt.setEventHandler {
      server.requestStop()
      interrupted.signal()
    }
    interrupt.resume()
    // SIGHUP reloads the plugins (cleanup, then startup), as a trade server does when
    // a plugin's configuration changes: the platform's state stays, the plugin's goes.
    signal(SIGHUP, SIG_IGN)
    let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
    hangup.setEventHandler {
      server.unloadPlugins()
      say("sim: SIGHUP: plugins reloaded, \(server.loadPlugins())/\(plugins.count) running")
    }
    hangup.resume()

    let summary: SimulationSummary
    do {
      summary = try server.run { fired, seconds in
        say("sim: \(fired) events fired, \(Int(Double(fired) / max(seconds, 0.001)))/s, \(String(format: "%.1f", seconds)) s")
      }
    } catch {
      server.unloadPlugins()
      throw SimFailure(message: "\(error)")
    }
    if let link = server.gatewayLink {
      let s = link.stats
      say("sim: gateway: \(s.requests) requests, \(s.fills) fills, \(s.rejects) rejects, \(s.answerRejects) answer rejects, \(s.duplicates) duplicates dropped, \(s.orphans) of an earlier run, "
        + "\(link.pendingCount) still waiting, last execution \(link.lastProcessed), \(s.connects) connection(s)")
    }
    let writesAtStateOut = server.host.writesApplied.load(ordering: .relaxed)
    if let stateOut {
      do {
        try ServerStateWriter.write(shards: server.shards, host: server.host, configuration: configuration, to: stateOut)
      } catch {
        server.unloadPlugins()
        throw SimFailure(message: "cannot write --state-out \(stateOut): \(error.localizedDescription)")
      }
    }
    if let seconds = try? Self.seconds(linger, flag: "--linger"), seconds > 0, loaded > 0 {
      // A SIGINT that ended the run does not also skip the linger; one during it ends it.
      while interrupted.wait(timeout: .now()) == .success {}
      say("sim: lingering \(linger) before plugin cleanup (SIGINT ends it): \(summary.eventsFired) events fired")
      if interrupted.wait(timeout: .now() + seconds) == .success {
        say("sim: linger ended by SIGINT")
      }
    }
    // Commands the CRM sent while the plugins lingered changed the platform: the state
    // written before the linger is rewritten so that it holds their deals and accounts.
    if let stateOut, server.host.writesApplied.load(ordering: .relaxed) != writesAtStateOut {
      do {
        try ServerStateWriter.write(shards: server.shards, host: server.host, configuration: configuration, to: stateOut)
        say("sim: state rewritten after the linger: \(server.host.writesApplied.load(ordering: .relaxed)) host writes applied")
      } catch {
        server.unloadPlugins()
        throw SimFailure(message: "cannot write --state-out \(stateOut): \(error.localizedDescription)")
      }
    }
    server.unloadPlugins()
    reportJournalBacklog(lingered: (try? Self.seconds(linger, flag: "--linger")).map { $0 > 0 } ?? false)
    say("sim: done: \(summary.eventsFired) events fired, \(summary.eventsMissed) missed, "
      + "\(String(format: "%.2f", summary.seconds)) s, \(Int(summary.rate)) events/s, "
      + "\(summary.accounts) accounts, \(summary.pluginsLoaded) plugin(s)"
      + (stateOut.map { ", state in \($0)" } ?? ""))
  }

  /// After the plugins' cleanup: how many events the plugin's journal still holds
  /// (hooked, not acknowledged by a collector), and how they get delivered. Without
  /// it a newcomer who ran `sim` without `--linger` and then `tradetap verify` sees
  /// divergences and believes events were lost (issue 15). Read from the journal's
  /// header, not opened: nothing is changed.
  func reportJournalBacklog(lingered: Bool) {
    guard !plugins.isEmpty else { return }
    let folder = params.compactMap { param -> String? in
      let parts = param.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      return parts.count == 2 && parts[0] == "Journal.Path" ? String(parts[1]) : nil
    }.last ?? "tradetap-journal-\(serverID)"
    guard let backlog = JournalBacklog.read(directory: folder) else { return }
    if backlog.unacknowledged == 0 {
      say("sim: journal \(folder): every event delivered and acknowledged")
    } else {
      say("sim: journal \(folder): \(backlog.unacknowledged) event(s) still journaled, not yet acknowledged by a collector; "
        + "they are delivered by the next start on the same Journal.Path"
        + (lingered ? " (the --linger was too short for them)" : ", or run with --linger 10s to let the plugin deliver them before it stops"))
    }
  }

  /// A duration flag's value in seconds (``FlagDuration``); a refusal is the user's one line.
  static func seconds(_ text: String, flag: String) throws -> Double {
    do { return try FlagDuration(text, flag: flag).seconds } catch { throw SimFailure(message: "\(error)") }
  }
}

/// Writes one line to stdout at once (progress must show through a pipe).
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A failure that ends the command with one line on stderr and exit code 1.
struct SimFailure: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}
