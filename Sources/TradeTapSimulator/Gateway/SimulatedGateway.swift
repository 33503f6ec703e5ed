import Foundation
import TradeServerAPI

/// Everything `tradetap gateway` needs; defaults are the CLI's.
public struct GatewayConfiguration: Sendable {
  public var listen = GatewayAddress("127.0.0.1:7500")!
  public var plugins: [String] = []
  public var parameters: [String: String] = [:]
  public var gatewayID: UInt32 = 501
  public var utcOffsetMinutes: Int32 = 120
  /// The LP's round trip, seconds: uniform in the range (seeded per request).
  public var latency: ClosedRange<Double> = 0.002...0.002
  /// Each fill slips by 0...N points against the client (seeded).
  public var slippagePoints: Int = 0
  public var rejectPercent: Double = 0
  /// Share of filled requests the LP fills in 2 or 3 executions.
  public var partialPercent: Double = 0
  public var storeDirectory = "./tradetap-gateway-store"
  public var stateOut: String?
  public var seed: UInt64 = 1

  public init() {}
}

/// A simulated MT5-style gateway with a liquidity provider behind it.
///
/// Trade servers connect (JSON Lines, `GatewayWire.swift`) and say which execution
/// they processed last; the gateway resends every stored execution of theirs above
/// it (MT5's `executions.dat` rule). Each request is locked (`on_dealer_lock`),
/// answered PLACED (`on_dealer_answer`; an invalid one is rejected there), and after
/// the LP's latency filled (in one or several executions, with slippage) or
/// rejected. Each execution gets the next id, is written to the store,
/// `on_execution` fires, the store is synced, and only then is it sent. Each
/// confirmation the server sends fires `on_execution_ack`. A request that reaches
/// the gateway again (the server resends what it still waits for after a restart of
/// either side) is never executed twice: one in flight is ignored, one the store
/// finished is left to the resend, one the store finished partly is filled for the rest.
public final class SimulatedGateway: @unchecked Sendable {
  public let configuration: GatewayConfiguration
  public let store: ExecutionStore
  public let host: GatewayPluginHost
  /// The address bound (port 0 replaced by the chosen one) once `start` returned.
  public private(set) var boundAddress: GatewayAddress

  private var listener: Int32 = -1
  /// Serialises id, store, `on_execution`, sync and send, so each server receives
  /// its executions in id order and a hello's resend misses none.
  private let executionLock = NSLock()
  private var connections: [UInt32: LineSocket] = [:]
  private var allSockets: [ObjectIdentifier: LineSocket] = [:]
  private let stateLock = NSLock()
  private var inFlight: Set<ExecutionStore.RequestKey> = []
  private var acked: [UInt32: UInt64] = [:]
  private var stopping = false
  private let work = DispatchGroup()
  private var acceptThread: Thread?
  /// Test knob (`TRADETAP_GATEWAY_SEND_DELAY_MS`): each execution is sent this long
  /// after it is durable (in id order), so a fault driver that kills the gateway finds
  /// stored executions the server has not received: the resend rule must deliver them.
  let sendDelayNanoseconds: UInt64 = {
    guard let text = ProcessInfo.processInfo.environment["TRADETAP_GATEWAY_SEND_DELAY_MS"], let ms = UInt64(text) else { return 0 }
    return min(ms, 10_000) * 1_000_000
  }()
  private var delayed: [(due: UInt64, execution: ts_execution)] = []
  private let delayedSignal = DispatchSemaphore(value: 0)

  /// Counters since start: requests locked, answers, fills, rejects, resent executions, acks.
  public private(set) var stats = Stats()
  public struct Stats: Sendable { public var requests = 0, answers = 0, fills = 0, rejects = 0, resent = 0, acks = 0 }

  public init(configuration: GatewayConfiguration, journal: HostJournal) throws {
    self.configuration = configuration
    store = try ExecutionStore(directory: configuration.storeDirectory)
    host = GatewayPluginHost(gatewayID: configuration.gatewayID, utcOffsetMinutes: configuration.utcOffsetMinutes,
                             parameters: configuration.parameters, store: store, journal: journal)
    boundAddress = configuration.listen
  }

  @discardableResult
  public func loadPlugins() -> Int { configuration.plugins.filter { host.load(path: $0) }.count }

  // MARK: Listening

  /// Binds and starts accepting trade servers.
  public func start() throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw GatewayError("socket: \(String(cString: strerror(errno)))") }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = configuration.listen.port.bigEndian
    address.sin_addr.s_addr = inet_addr(configuration.listen.host == "localhost" ? "127.0.0.1" : configuration.listen.host)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard bound else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw GatewayError("cannot listen on \(configuration.listen): \(reason)")
    }
    listener = fd
    boundAddress.port = UInt16(bigEndian: address.sin_port)
    let thread = Thread { [self] in acceptLoop() }
    thread.name = "gateway-accept"
    acceptThread = thread
    thread.start()
    if sendDelayNanoseconds > 0 {
      let sender = Thread { [self] in delayedSender() }
      sender.name = "gateway-delayed-sender"
      sender.start()
    }
  }

  private func acceptLoop() {
    while true {
      let fd = accept(listener, nil, nil)
      if fd < 0 {
        if errno == EINTR { continue }
        return  // the listener was closed (stop)
      }
      let link = LineSocket(fd: fd)
      let refused = stateLock.withLock { () -> Bool in
        if stopping { return true }
        allSockets[ObjectIdentifier(link)] = link
        work.enter()
        return false
      }
      if refused { link.close(); continue }
      let thread = Thread { [self] in
        serve(link)
        stateLock.withLock { allSockets[ObjectIdentifier(link)] = nil }
        link.close()
        work.leave()
      }
      thread.name = "gateway-server-link"
      thread.start()
    }
  }

  /// Stops accepting, drops every server, lets LP work in progress end (what it has
  /// not stored yet is not executed: the servers resend those requests), stops the
  /// plugins and writes `--state-out`.
  public func stop() {
    let sockets = stateLock.withLock { () -> [LineSocket] in
      stopping = true
      return Array(allSockets.values)
    }
    if listener >= 0 {
      shutdown(listener, Int32(SHUT_RDWR))
      close(listener)
      listener = -1
    }
    for socket in sockets { socket.shutdownBoth() }
    _ = work.wait(timeout: .now() + 10)
    store.sync()
    host.unloadAll()
  }

  // MARK: A trade server's link

  private func serve(_ link: LineSocket) {
    guard let hello = link.receive(), hello.t == "hello", let server = hello.server_id else { return }
    let last = hello.last_execution_id ?? 0
    link.send(.welcome(configuration.gatewayID))
    confirm(server: server, through: last)
    // Register and resend under the execution lock: nothing stored meanwhile is missed
    // or sent out of order.
    let resent = executionLock.withLock { () -> Int in
      connections[server]?.shutdownBoth()
      connections[server] = link
      let missing = store.after(last, server: server)
      for record in missing { link.send(.execution(Self.wire(record))) }
      stateLock.withLock { stats.resent += missing.count }
      return missing.count
    }
    host.journal.write(source: "gateway", level: 1,
                       "server \(server) connected, processed through execution \(last); resent \(resent) execution(s)")
    while let frame = link.receive() {
      switch frame.t {
      case "request": if let request = frame.request { lock(request, from: server, on: link) }
      case "ack": if let id = frame.execution_id { confirm(server: server, through: id) }
      default: break
      }
    }
    executionLock.withLock { if connections[server] === link { connections[server] = nil } }
    host.journal.write(source: "gateway", level: 1, "server \(server) disconnected")
  }

  private func confirm(server: UInt32, through id: UInt64) {
    host.fireExecutionAck(server: server, through: id)
    stateLock.withLock {
      stats.acks += 1
      acked[server] = max(acked[server] ?? 0, id)
    }
  }

  private func lock(_ wire: WireRequest, from server: UInt32, on link: LineSocket) {
    var request = wire
    request.server_id = server
    host.fireDealerLock(cRequest(request))
    stateLock.withLock { stats.requests += 1 }
    let valid = request.action == UInt32(TS_TA_MARKET) && request.type <= 1 && request.volume_ext > 0
      && request.volume_ext % Volume.step == 0 && !request.symbol.isEmpty && request.digits <= 8
      && (request.type == 0 ? request.price_ask : request.price_bid) > 0
    guard valid else {
      answer(request, retcode: Int32(TS_RET_REQUEST_REJECT), comment: "invalid request", on: link)
      return
    }
    let key = ExecutionStore.RequestKey(server: server, request: request.request_id)
    let progress = store.progress(server: server, request: request.request_id)
    let accepted = stateLock.withLock { () -> Bool in
      guard !stopping, !inFlight.contains(key), progress?.final != true else { return false }
      inFlight.insert(key)
      work.enter()
      return true
    }
    guard accepted else { return }
    answer(request, retcode: Int32(TS_RET_REQUEST_PLACED), comment: "placed", on: link)
    if let progress {
      host.journal.write(source: "gateway", level: 1, "request \(server)/\(request.request_id) continued: "
        + "\(progress.remaining) of \(request.volume_ext) left by its stored executions")
    }
    var rng = SeededGenerator(seed: configuration.seed, stream: UInt64(server) << 48 ^ request.request_id)
    let range = configuration.latency
    let latency = range.lowerBound + Double(rng.next() >> 11) / Double(1 << 53) * (range.upperBound - range.lowerBound)
    let generator = rng
    DispatchQueue.global().asyncAfter(deadline: .now() + latency) { [self, request] in
      var rng = generator
      execute(request, remaining: progress?.remaining ?? request.volume_ext, fresh: progress == nil,
              latency: latency, rng: &rng)
      stateLock.withLock { _ = inFlight.remove(key) }
      work.leave()
    }
  }

  private func answer(_ request: WireRequest, retcode: Int32, comment: String, on link: LineSocket) {
    var confirm = ts_confirm()
    confirm.struct_size = UInt32(MemoryLayout<ts_confirm>.size)
    confirm.request_id = request.request_id
    confirm.server_id = request.server_id
    confirm.retcode = retcode
    confirm.order = request.order
    confirm.volume_ext = request.volume_ext
    confirm.price = request.type == 0 ? request.price_ask : request.price_bid
    confirm.price_bid = request.price_bid
    confirm.price_ask = request.price_ask
    confirm.time_msc = host.brokerTimeMsc()
    copyText(comment, into: &confirm.comment)
    host.fireDealerAnswer(confirm)
    stateLock.withLock { stats.answers += 1 }
    link.send(.answer(WireAnswer(request_id: request.request_id, server_id: request.server_id, retcode: retcode,
                                 order: request.order, comment: comment)))
  }

  // MARK: The LP

  /// The LP's answer to one request: a reject, or fills for `remaining` (several
  /// when the partial rate says so), each `latency / 4` after the previous one.
  private func execute(_ request: WireRequest, remaining: UInt64, fresh: Bool, latency: Double,
                       rng: inout SeededGenerator) {
    if fresh, configuration.rejectPercent > 0, rng.chance(percent: configuration.rejectPercent) {
      _ = send(request, action: UInt32(TS_TE_ORDER_REJECT), volume: 0, remaining: request.volume_ext, pricePoints: 0,
               retcode: Int32(TS_RET_REQUEST_REJECT))
      return
    }
    let steps = remaining / Volume.step
    var parts = 1
    if steps >= 2, configuration.partialPercent > 0, rng.chance(percent: configuration.partialPercent) {
      parts = min(Int(steps), 2 + rng.below(2))
    }
    let buy = request.type == 0
    let scale = Money.doublePowers[Int(request.digits)]
    let quote = Int64(((buy ? request.price_ask : request.price_bid) * scale).rounded())
    var left = steps
    for part in 0..<parts {
      let take = part == parts - 1 ? left : UInt64(1 + rng.below(Int(left) - (parts - part - 1)))
      left -= take
      let slip = configuration.slippagePoints > 0 ? Int64(rng.below(configuration.slippagePoints + 1)) : 0
      let points = buy ? quote + slip : max(1, quote - slip)
      guard send(request, action: UInt32(TS_TE_ORDER_FILL), volume: take * Volume.step, remaining: left * Volume.step,
                 pricePoints: points, retcode: 0)
      else { return }
      if part < parts - 1 { usleep(UInt32(max(0.0005, latency / 4) * 1e6)) }
    }
  }

  /// Stores one execution (next id, `write`), fires `on_execution`, syncs the store,
  /// and sends it to its server if connected. False once the gateway is stopping.
  private func send(_ request: WireRequest, action: UInt32, volume: UInt64, remaining: UInt64, pricePoints: Int64,
                    retcode: Int32) -> Bool {
    executionLock.lock()
    defer { executionLock.unlock() }
    guard !stateLock.withLock({ stopping }) else { return false }
    var e = ts_execution()
    e.struct_size = UInt32(MemoryLayout<ts_execution>.size)
    e.execution_id = store.lastID + 1
    e.server_id = request.server_id
    e.action = action
    e.request_id = request.request_id
    e.login = request.login
    copyText(request.group, into: &e.group)
    copyText(request.symbol, into: &e.symbol)
    e.digits = request.digits
    e.order = request.order
    copyText("LPO-\(request.server_id)-\(request.request_id)", into: &e.order_external_id)
    e.order_type = request.type
    e.order_volume_ext = request.volume_ext
    e.order_price = request.type == 0 ? request.price_ask : request.price_bid
    let scale = Money.doublePowers[Int(request.digits)]
    if action == UInt32(TS_TE_ORDER_FILL) {
      copyText("LP\(configuration.gatewayID)-\(e.execution_id)", into: &e.deal_external_id)
      e.deal_action = request.type == 0 ? UInt32(TS_DEAL_BUY) : UInt32(TS_DEAL_SELL)
      e.deal_volume_ext = volume
      e.deal_price = Double(pricePoints) / scale
      e.price_gateway = e.deal_price
    }
    e.deal_volume_remaining_ext = remaining
    e.position_id = request.position_id
    e.external_retcode = retcode
    e.time_msc = host.brokerTimeMsc()
    copyText(action == UInt32(TS_TE_ORDER_FILL) ? "fill" : "rejected by LP", into: &e.comment)
    do { try store.append(e) } catch {
      host.journal.write(source: "gateway", level: 3, "execution store: cannot append: \(error)")
      return false
    }
    host.fireExecution(e)
    store.sync()
    stateLock.withLock { if action == UInt32(TS_TE_ORDER_FILL) { stats.fills += 1 } else { stats.rejects += 1 } }
    if sendDelayNanoseconds > 0 {
      stateLock.withLock { delayed.append((Self.monotonicNanoseconds() + sendDelayNanoseconds, e)) }
      delayedSignal.signal()
    } else if let link = connections[e.server_id], !link.send(.execution(Self.wire(e))) {
      link.shutdownBoth()
    }
    return true
  }

  static func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
  }

  /// Sends delayed executions when due, oldest first (the knob above). One a hello
  /// already resent arrives twice; the server drops it by its id.
  private func delayedSender() {
    while !stateLock.withLock({ stopping }) {
      let next = stateLock.withLock { delayed.first }
      guard let next else {
        _ = delayedSignal.wait(timeout: .now() + 0.05)
        continue
      }
      let now = Self.monotonicNanoseconds()
      if next.due > now { usleep(UInt32(min(50_000, (next.due - now) / 1000))); continue }
      stateLock.withLock { _ = delayed.removeFirst() }
      executionLock.withLock {
        if let link = connections[next.execution.server_id], !link.send(.execution(Self.wire(next.execution))) {
          link.shutdownBoth()
        }
      }
    }
  }

  // MARK: Records

  func cRequest(_ r: WireRequest) -> ts_request {
    var c = ts_request()
    c.struct_size = UInt32(MemoryLayout<ts_request>.size)
    c.request_id = r.request_id
    c.server_id = r.server_id
    c.login = r.login
    copyText(r.group, into: &c.group)
    copyText(r.symbol, into: &c.symbol)
    c.digits = r.digits
    c.action = r.action
    c.type = r.type
    c.volume_ext = r.volume_ext
    c.order = r.order
    c.position_id = r.position_id
    c.price_order = r.price_order
    c.price_bid = r.price_bid
    c.price_ask = r.price_ask
    c.time_msc = host.brokerTimeMsc()
    copyText(r.comment, into: &c.comment)
    return c
  }

  static func wire(_ e: ts_execution) -> WireExecution {
    WireExecution(
      execution_id: e.execution_id, server_id: e.server_id, action: e.action, request_id: e.request_id, login: e.login,
      symbol: text(of: e.symbol), digits: e.digits, order: e.order, order_external_id: text(of: e.order_external_id),
      deal_external_id: text(of: e.deal_external_id), deal_action: e.deal_action, deal_volume_ext: e.deal_volume_ext,
      deal_volume_remaining_ext: e.deal_volume_remaining_ext, deal_price: e.deal_price, position_id: e.position_id,
      external_retcode: e.external_retcode, time_msc: e.time_msc)
  }

  // MARK: State

  /// The gateway's state as JSON (`--state-out`): every stored execution (all runs
  /// of this store) and the last id each server confirmed to this run.
  public func renderState() -> String {
    let confirmed = stateLock.withLock { acked }
    var out = "{\"format\":\"tradetap-gateway-state/1\",\"gateway_id\":\(configuration.gatewayID),\n\"acked\":["
    out += confirmed.keys.sorted().map { "{\"server_id\":\($0),\"execution_id\":\(confirmed[$0]!)}" }.joined(separator: ",")
    out += "],\n\"executions\":["
    var first = true
    for e in store.after(0) {
      out += first ? "\n" : ",\n"
      first = false
      let digits = Int(e.digits)
      let price = Money.decimalString(Int64((e.deal_price * Money.doublePowers[digits]).rounded()), digits: digits)
      out += "{\"execution_id\":\(e.execution_id),\"server_id\":\(e.server_id),\"action\":\(e.action)"
      out += ",\"request_id\":\(e.request_id),\"login\":\(e.login),\"order\":\(e.order)"
      out += ",\"symbol\":\"\(text(of: e.symbol))\",\"digits\":\(e.digits)"
      out += ",\"deal_external_id\":\"\(text(of: e.deal_external_id))\",\"deal_action\":\(e.deal_action)"
      out += ",\"deal_volume_ext\":\(e.deal_volume_ext),\"deal_volume_remaining_ext\":\(e.deal_volume_remaining_ext)"
      out += ",\"deal_price\":\"\(price)\",\"external_retcode\":\(e.external_retcode),\"time_msc\":\(e.time_msc)}"
    }
    out += "]\n}\n"
    return out
  }

  public func writeState(to path: String) throws {
    try renderState().write(toFile: path, atomically: true, encoding: .utf8)
  }
}

public struct GatewayError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
