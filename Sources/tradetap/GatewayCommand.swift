import ArgumentParser
import Foundation
import TradeTapCollector
import TradeTapSimulator

/// `tradetap gateway`: a simulated MT5-style gateway with an LP behind it (flags as
/// in the CLI spec; docs/gateway.md).
struct GatewayCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gateway",
    abstract: "Runs a simulated MT5-style gateway (an LP behind it) that loads plugins through the gateway ABI.",
    discussion: """
      Trade servers (`tradetap sim --gateway HOST:PORT`) connect and route market requests; \
      the LP fills them after --latency, with --slippage-points, --partial-rate and --reject-rate. \
      Every execution is stored in --store before it is sent, and resent to a server that has not \
      processed it. SIGINT stops it cleanly (and writes --state-out).
      """
  )

  @Option(help: "Address trade servers connect to; port 0 picks one and prints `listening gateway=HOST:PORT`.")
  var listen: String = "127.0.0.1:7500"
  @Option(name: .customLong("plugin"), help: "Plugin .so to load through the gateway ABI (repeatable).")
  var plugins: [String] = []
  @Option(name: .customLong("param"), help: "Plugin parameter NAME=VALUE (repeatable).")
  var params: [String] = []
  @Option(name: .customLong("gateway-id"), help: "Gateway identity (the collector's source id).")
  var gatewayID: UInt32 = 501
  @Option(help: "The LP's round trip: D or D..D (e.g. 2ms, 1ms..20ms), seeded per request.")
  var latency: String = "2ms"
  @Option(name: .customLong("slippage-points"), help: "Each fill slips by 0...N points against the client.")
  var slippagePoints: Int = 0
  @Option(name: .customLong("reject-rate"), help: "Share of requests the LP rejects, e.g. 5%.")
  var rejectRate: String = "0%"
  @Option(name: .customLong("partial-rate"), help: "Share of requests filled in several executions, e.g. 30%.")
  var partialRate: String = "0%"
  @Option(help: "The execution store's folder (executions.dat).")
  var store: String = "./tradetap-gateway-store"
  @Option(name: .customLong("state-out"), help: "Write the gateway's state (every stored execution) as JSON at the end.")
  var stateOut: String?
  @Option(help: "Seed that makes the LP's decisions repeatable.")
  var seed: UInt64 = 1
  @Option(name: .customLong("utc-offset"), help: "Broker time offset from UTC, in minutes.")
  var utcOffset: Int32 = 120
  @Option(help: "The gateway's own journal file (default: stderr).")
  var journal: String?

  static func percent(_ text: String, flag: String) throws -> Double {
    let number = text.hasSuffix("%") ? String(text.dropLast()) : text
    guard let value = Double(number), (0...100).contains(value) else {
      throw SimFailure(message: "\(flag) \(text) must be a percent, 0% to 100%")
    }
    return value
  }

  func makeConfiguration() throws -> GatewayConfiguration {
    var configuration = GatewayConfiguration()
    guard let address = GatewayAddress(listen) else { throw SimFailure(message: "--listen \(listen) is not HOST:PORT") }
    configuration.listen = address
    configuration.plugins = plugins
    for param in params {
      let parts = param.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2 else { throw SimFailure(message: "--param \(param) is not NAME=VALUE") }
      configuration.parameters[String(parts[0])] = String(parts[1])
    }
    configuration.gatewayID = gatewayID
    configuration.utcOffsetMinutes = utcOffset
    let bounds = latency.components(separatedBy: "..")
    guard bounds.count <= 2 else { throw SimFailure(message: "--latency \(latency) is not D or D..D") }
    let low = try SimCommand.seconds(bounds[0], flag: "--latency")
    let high = bounds.count == 2 ? try SimCommand.seconds(bounds[1], flag: "--latency") : low
    guard low >= 0, high >= low, high <= 60 else { throw SimFailure(message: "--latency \(latency): need 0 <= low <= high <= 60s") }
    configuration.latency = low...high
    guard (0...100_000).contains(slippagePoints) else { throw SimFailure(message: "--slippage-points must be 0 to 100000") }
    configuration.slippagePoints = slippagePoints
    configuration.rejectPercent = try Self.percent(rejectRate, flag: "--reject-rate")
    configuration.partialPercent = try Self.percent(partialRate, flag: "--partial-rate")
    configuration.storeDirectory = store
    configuration.stateOut = stateOut
    configuration.seed = seed
    return configuration
  }

  func run() throws {
    let configuration = try makeConfiguration()
    let hostJournal: HostJournal
    do { hostJournal = try HostJournal(path: journal) } catch {
      throw SimFailure(message: "--journal \(journal ?? ""): cannot open for writing")
    }
    let gateway: SimulatedGateway
    do { gateway = try SimulatedGateway(configuration: configuration, journal: hostJournal) } catch {
      throw SimFailure(message: "--store \(store): \(error)")
    }
    if gateway.store.truncatedBytes > 0 {
      say("gateway: execution store: cut a torn tail of \(gateway.store.truncatedBytes) bytes")
    }
    // SIGINT is handled before anything starts, so that an early one still stops cleanly.
    signal(SIGINT, SIG_IGN)
    let interrupted = DispatchSemaphore(value: 0)
    let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    interrupt.setEventHandler { interrupted.signal() }
    interrupt.resume()
    signal(SIGTERM, SIG_IGN)
    let terminate = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
    terminate.setEventHandler { interrupted.signal() }
    terminate.resume()

    let loaded = gateway.loadPlugins()
    do { try gateway.start() } catch {
      gateway.stop()
      throw SimFailure(message: "\(error)")
    }
    if configuration.listen.port == 0 { say("listening gateway=\(gateway.boundAddress)") }
    say("gateway: \(configuration.gatewayID) on \(gateway.boundAddress), \(loaded)/\(plugins.count) plugin(s) running, "
      + "\(gateway.store.count) execution(s) stored (last id \(gateway.store.lastID)), seed \(seed)")
    interrupted.wait()
    gateway.stop()
    let stats = gateway.stats
    if let stateOut {
      do { try gateway.writeState(to: stateOut) } catch {
        throw SimFailure(message: "cannot write --state-out \(stateOut): \(error.localizedDescription)")
      }
    }
    say("gateway: done: \(stats.requests) requests, \(stats.answers) answers, \(stats.fills) fills, \(stats.rejects) rejects, "
      + "\(stats.resent) resent, \(stats.acks) acks, last execution \(gateway.store.lastID)"
      + (stateOut.map { ", state in \($0)" } ?? ""))
  }
}
