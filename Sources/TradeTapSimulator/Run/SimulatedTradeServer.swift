import CTradeTapShims
import Foundation
import Synchronization
import TradeServerAPI

/// The simulated trade server: shards of accounts (one per host thread), the
/// plugin host, and the run that fires hooks from every thread at once. Each
/// thread owns its accounts, so per-account order is preserved as on a real server.
public final class SimulatedTradeServer: @unchecked Sendable {
  public let configuration: SimulationConfiguration
  public let host: PluginHost
  public let shards: [ServerShard]
  /// Per-thread counters, one cache line each: [generated, fired, missed].
  private let counters: UnsafeMutablePointer<UInt64>
  private static let counterStride = 8
  private let stopFlag: UnsafeMutablePointer<UInt64>
  /// The gateway link (`--gateway`), started by `run`.
  public private(set) var gatewayLink: GatewayLink?
  /// Hook calls fired for gateway executions (from the link's thread).
  private let gatewayHooks = Atomic<UInt64>(0)

  public init(configuration: SimulationConfiguration, journal: HostJournal) {
    self.configuration = configuration
    let platform: UInt32 = configuration.platform == .mt4 ? 4 : 5
    host = PluginHost(serverID: configuration.serverID, platform: platform,
                      utcOffsetMinutes: configuration.utcOffsetMinutes, parameters: configuration.parameters,
                      journal: journal)
    let threads = configuration.scenario == nil ? max(1, configuration.threads) : 1
    let host = self.host
    let clock: () -> Int64 = { host.brokerTimeMsc() }
    shards = (0..<threads).map { index in
      let identity = ShardIdentity(shard: index, shards: threads)
      switch configuration.platform {
      case .mt5: return ServerShard(index: index, server: .mt5(MT5TradeServer(identity: identity, clock: clock)))
      case .mt4: return ServerShard(index: index, server: .mt4(MT4TradeServer(identity: identity, clock: clock)))
      }
    }
    host.shards = shards
    if configuration.gateway != nil {
      let mask = GroupMask(configuration.gatewayGroups)
      for shard in shards {
        if case .mt5(let server) = shard.server { server.routesToGateway = { mask.matches($0.group) } }
      }
    }
    counters = .allocate(capacity: threads * Self.counterStride)
    counters.initialize(repeating: 0, count: threads * Self.counterStride)
    stopFlag = .allocate(capacity: 1)
    stopFlag.initialize(to: 0)
  }

  deinit {
    counters.deallocate()
    stopFlag.deallocate()
  }

  /// Loads every configured plugin; a plugin that fails is unloaded with its reason
  /// in the journal and the server runs on without it.
  /// - Returns: the number of plugins running.
  @discardableResult
  public func loadPlugins() -> Int {
    configuration.plugins.filter { host.load(path: $0) }.count
  }

  /// Stops the plugins (cleanup, dlclose).
  public func unloadPlugins() { host.unloadAll() }

  /// Asks a running `run` to stop after the current operations (SIGINT).
  public func requestStop() { tt_store_release_u64(stopFlag, 1) }

  /// Hook calls fired and changes missed so far, over every thread.
  public var progress: (fired: Int, missed: Int) {
    var fired: UInt64 = gatewayHooks.load(ordering: .relaxed), missed: UInt64 = 0
    for i in 0..<shards.count {
      fired += tt_load_relaxed_u64(counters + i * Self.counterStride + 1)
      missed += tt_load_relaxed_u64(counters + i * Self.counterStride + 2)
    }
    return (Int(fired), Int(missed))
  }

  // MARK: Running

  /// Runs the generated trading day (or the scenario) to its end.
  /// - Parameter onProgress: called about once a second from the calling thread.
  public func run(onProgress: ((_ fired: Int, _ seconds: Double) -> Void)? = nil) throws -> SimulationSummary {
    let start = tt_monotonic_ns()
    if let address = configuration.gateway, gatewayLink == nil {
      let link = try GatewayLink(address: address, serverID: configuration.serverID,
                                 storePath: configuration.gatewayStorePath ?? "tradetap-sim-\(configuration.serverID).gateway")
      gatewayLink = link
      link.start(apply: { [self] execution, request in applyGatewayExecution(execution, request: request) },
                 rejectAnswered: { [self] request in applyGatewayExecution(nil, request: request) })
    }
    defer {
      if let link = gatewayLink {
        // Routed orders still waiting get their executions first (the gateway may be
        // restarting); SIGINT ends the wait.
        _ = link.waitIdle(seconds: configuration.gatewayDrainSeconds) { tt_load_acquire_u64(stopFlag) != 0 }
        link.stop()
      }
    }
    if let path = configuration.scenario {
      let text = try String(contentsOfFile: path, encoding: .utf8)
      let steps = try ScenarioParser.parse(text)
      try replay(steps)
    } else {
      let done = DispatchGroup()
      for shard in shards {
        done.enter()
        let thread = Thread { [self] in
          tradingDay(shard)
          done.leave()
        }
        thread.name = "sim-host-\(shard.index)"
        thread.start()
      }
      while done.wait(timeout: .now() + 1) == .timedOut {
        onProgress?(progress.fired, Double(tt_monotonic_ns() - start) / 1e9)
      }
    }
    let seconds = Double(tt_monotonic_ns() - start) / 1e9
    let totals = progress
    return SimulationSummary(eventsFired: totals.fired, eventsMissed: totals.missed, seconds: seconds,
                             accounts: shards.reduce(0) { $0 + $1.logins.count }, pluginsLoaded: host.loadedPlugins.count)
  }

  /// Replays scenario steps in order on the one shard.
  public func replay(_ steps: [ScenarioStep]) throws {
    let shard = shards[0]
    var player = ScenarioPlayer()
    var missRNG = SeededGenerator(seed: configuration.seed, stream: 1_000)
    let sinks = host.activeSinks
    for step in steps {
      try shard.withLock {
        defer { _ = shard.drainEvents { _ in } }
        try player.apply(step, to: shard.server)
        let miss = step.miss || (configuration.missEventsPercent > 0 && missRNG.chance(percent: configuration.missEventsPercent))
        publish(shard, thread: 0, sinks: sinks, miss: miss)
      }
    }
  }

  /// One host thread: opens its accounts, then trades until the run's end.
  private func tradingDay(_ shard: ServerShard) {
    let threads = shards.count
    let thread = shard.index
    var rng = SeededGenerator(seed: configuration.seed, stream: UInt64(thread))
    var missRNG = SeededGenerator(seed: configuration.seed, stream: 1_000 + UInt64(thread))
    let sinks = host.activeSinks
    // Opening the accounts counts against the run's duration and rate too.
    let start = tt_monotonic_ns()
    let missPercent = configuration.missEventsPercent
    func publishStep() {
      let miss = missPercent > 0 && missRNG.chance(percent: missPercent)
      publish(shard, thread: thread, sinks: sinks, miss: miss)
    }
    // Accounts i = thread, thread + threads, ... belong to this thread.
    for i in stride(from: thread, to: configuration.accounts, by: threads) {
      shard.withLock {
        openAccount(number: i, on: shard, &rng)
        publishStep()
      }
    }
    guard !shard.logins.isEmpty else { return }
    let budget: UInt64? = {
      guard case .events(let total) = configuration.length else { return nil }
      return UInt64(total / threads + (thread < total % threads ? 1 : 0))
    }()
    let seconds: Double? = {
      if case .duration(let s) = configuration.length { return s }
      return nil
    }()
    let perThreadRate = configuration.rate / Double(threads)
    let generated = counters + thread * Self.counterStride
    var steps = 0
    // Slow rates pace (and check the clock) every step; fast runs every 64 steps.
    let pacesEveryStep = perThreadRate > 0 && perThreadRate < 50_000
    while true {
      if let budget, generated.pointee >= budget { break }
      steps += 1
      if pacesEveryStep || steps & 63 == 0 {
        if tt_load_acquire_u64(stopFlag) != 0 { break }
        var elapsed = Double(tt_monotonic_ns() - start) / 1e9
        if let seconds, elapsed >= seconds { break }
        if perThreadRate > 0 {
          let due = Double(generated.pointee) / perThreadRate
          if due > elapsed + 0.001 {
            usleep(UInt32(min(0.5, due - elapsed) * 1e6))
            elapsed = Double(tt_monotonic_ns() - start) / 1e9
            if let seconds, elapsed >= seconds { break }
          }
        }
      }
      shard.withLock {
        switch shard.server {
        case .mt5(let server): TradingDay.step(server, &rng)
        case .mt4(let server): TradingDay.step(server, &rng)
        }
        publishStep()
      }
    }
  }

  /// Creates account number `i` with its opening deposit (and, for one in four,
  /// a credit line): `on_user_add`, then the deposit's deal or record.
  private func openAccount(number i: Int, on shard: ServerShard, _ rng: inout SeededGenerator) {
    let login = UInt64(10_000 + i)
    let leverage: UInt32 = [100, 200, 500][i % 3]
    let deposit = Int64(100_000 + rng.below(1_900_000))
    switch shard.server {
    case .mt5(let server):
      let netting = configuration.margin == .netting || (configuration.margin == .mixed && i % 2 == 0)
      let account = Account(login: login, group: netting ? "real\\netting" : "real\\hedging", name: "Client \(login)",
                            marginMode: netting ? .netting : .hedging, leverage: leverage, timeMsc: 0)
      guard (try? server.createAccount(account)) != nil else { return }
      _ = try? server.balanceOperation(login: login, action: .balance, amount: deposit, comment: "initial deposit")
      if i % 4 == 3 { _ = try? server.balanceOperation(login: login, action: .credit, amount: 50_000, comment: "credit line") }
    case .mt4(let server):
      let account = Account(login: login, group: "real", name: "Client \(login)", marginMode: .hedging,
                            leverage: leverage, timeMsc: 0)
      guard (try? server.createAccount(account)) != nil else { return }
      _ = try? server.balanceOperation(login: login, credit: false, amount: deposit, comment: "initial deposit")
      if i % 4 == 3 { _ = try? server.balanceOperation(login: login, credit: true, amount: 50_000, comment: "credit line") }
    }
  }

  // MARK: The gateway

  /// The request a routed order sends (`TS_TA_MARKET`, the quote when it was routed).
  private func gatewayRequest(_ order: Order, server: MT5TradeServer, link: GatewayLink) -> WireRequest {
    let scale = Double(Money.doublePowers[order.digits])
    return WireRequest(
      request_id: link.makeRequestID(), server_id: configuration.serverID, login: order.login,
      group: server.accounts[order.login]?.group ?? "", symbol: order.symbol, digits: UInt32(order.digits),
      action: UInt32(TS_TA_MARKET), type: order.type.rawValue, volume_ext: order.volumeInitial, order: order.order,
      position_id: order.positionID, price_order: Double(order.pricePoints) / scale,
      price_bid: Double(server.feed.bid(order.symbolIndex)) / scale,
      price_ask: Double(server.feed.ask(order.symbolIndex)) / scale, comment: order.comment)
  }

  /// Applies one gateway execution (nil: the answer rejected the request) to the
  /// routed order, under its shard's lock, and fires the hooks it made.
  private func applyGatewayExecution(_ execution: WireExecution?, request: WireRequest?) {
    guard let request else { return }  // an execution of an earlier run's request: nothing waits for it
    let sinks = host.activeSinks
    for shard in shards {
      let applied = shard.withLock { () -> Bool in
        guard case .mt5(let server) = shard.server, server.routedOrders[request.order] != nil else { return false }
        if let execution, execution.action == UInt32(TS_TE_ORDER_FILL) {
          let points = Int64((execution.deal_price * Money.doublePowers[Int(request.digits)]).rounded())
          server.fillRoutedOrder(request.order, volumeExt: execution.deal_volume_ext, pricePoints: points,
                                 externalID: execution.deal_external_id)
        } else {
          server.rejectRoutedOrder(request.order)
        }
        let count = sinks.isEmpty ? shard.drainEvents { _ in } : shard.drainEvents { HookDispatch.fire($0, to: sinks) }
        gatewayHooks.add(UInt64(count), ordering: .relaxed)
        return true
      }
      if applied { return }
    }
  }

  /// Fires (or, for a missed change, drops) the hook calls the last operation made.
  private func publish(_ shard: ServerShard, thread: Int, sinks: [ts_event_sink], miss: Bool) {
    let slot = counters + thread * Self.counterStride
    let count: Int
    if miss || sinks.isEmpty {
      count = shard.drainEvents { _ in }
    } else {
      count = shard.drainEvents { HookDispatch.fire($0, to: sinks) }
    }
    slot.pointee += UInt64(count)
    if let link = gatewayLink, case .mt5(let server) = shard.server, !server.newlyRouted.isEmpty {
      for order in server.newlyRouted { link.submit(gatewayRequest(order, server: server, link: link)) }
      server.newlyRouted.removeAll()
    }
    if miss {
      tt_store_relaxed_u64(slot + 2, tt_load_relaxed_u64(slot + 2) + UInt64(count))
    } else {
      tt_store_relaxed_u64(slot + 1, tt_load_relaxed_u64(slot + 1) + UInt64(count))
    }
  }
}
