import Foundation
import TradeServerAPI

/// The trade server's side of the gateway link (`sim --gateway`).
///
/// Routed requests wait in `pending` until an execution ends them (a reject or the
/// last fill) or the gateway's answer rejects them; each (re)connection says hello
/// with the last processed execution id and sends every pending request again (the
/// gateway never executes one twice). Executions at or below the last processed id
/// are dropped; each other one is applied (`apply`), then its id is made durable in
/// the store file (`pwrite` + `fdatasync`), then confirmed to the gateway (`ack`).
/// The store file (16 bytes: last processed execution id, run epoch) also numbers
/// requests: id = epoch << 32 | n, so a restarted server never reuses one.
public final class GatewayLink: @unchecked Sendable {
  public let address: GatewayAddress
  public let serverID: UInt32
  public let storePath: String
  private let fd: Int32
  private let epoch: UInt64
  private let lock = NSLock()
  private var next: UInt64 = 0
  private var pending: [UInt64: WireRequest] = [:]
  private var socket: LineSocket?
  private var stopping = false
  private var thread: Thread?
  private let finished = DispatchSemaphore(value: 0)
  /// Applies an execution of a pending request (nil: one this run never sent).
  private var apply: ((WireExecution, WireRequest?) -> Void)?
  /// Cancels a request the gateway's answer rejected.
  private var rejectAnswered: ((WireRequest) -> Void)?

  /// The last execution id applied (durable).
  public private(set) var lastProcessed: UInt64
  public private(set) var stats = Stats()
  public struct Stats: Sendable {
    public var requests = 0, fills = 0, rejects = 0, answerRejects = 0, duplicates = 0, orphans = 0, connects = 0
  }

  public init(address: GatewayAddress, serverID: UInt32, storePath: String) throws {
    self.address = address
    self.serverID = serverID
    self.storePath = storePath
    let file = open(storePath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard file >= 0 else { throw GatewayError("--gateway-store \(storePath): cannot open: \(String(cString: strerror(errno)))") }
    fd = file
    var words: (UInt64, UInt64) = (0, 0)
    let read = withUnsafeMutableBytes(of: &words) { pread(file, $0.baseAddress, 16, 0) }
    if read != 16 { words = (0, 0) }
    lastProcessed = words.0
    epoch = words.1 + 1
    persist()
  }

  deinit { close(fd) }

  private func persist() {
    var words = (lastProcessed, epoch)
    _ = withUnsafeBytes(of: &words) { pwrite(fd, $0.baseAddress, 16, 0) }
    _ = fdatasync(fd)
  }

  /// Starts the link's thread (connects, reconnects every 50 ms while the gateway is away).
  public func start(apply: @escaping (WireExecution, WireRequest?) -> Void, rejectAnswered: @escaping (WireRequest) -> Void) {
    self.apply = apply
    self.rejectAnswered = rejectAnswered
    let thread = Thread { [self] in
      run()
      finished.signal()
    }
    thread.name = "sim-gateway-link"
    self.thread = thread
    thread.start()
  }

  /// A new request id (unique across restarts of this server).
  public func makeRequestID() -> UInt64 {
    lock.withLock {
      next += 1
      return epoch << 32 | next
    }
  }

  /// Routes a request: pending until it ends; sent now when connected.
  public func submit(_ request: WireRequest) {
    let link = lock.withLock { () -> LineSocket? in
      pending[request.request_id] = request
      stats.requests += 1
      return socket
    }
    link?.send(.request(request))
  }

  public var pendingCount: Int { lock.withLock { pending.count } }

  /// Waits until nothing is pending, or the deadline, or `stop` says so; true when idle.
  public func waitIdle(seconds: Double, stop: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while pendingCount > 0 {
      if Date() >= deadline || stop() { return false }
      usleep(10_000)
    }
    return true
  }

  /// Ends the link (the pending requests stay in the gateway's hands).
  public func stop() {
    let link = lock.withLock { () -> LineSocket? in
      stopping = true
      return socket
    }
    link?.shutdownBoth()
    if thread != nil { finished.wait() }
  }

  private func run() {
    while !lock.withLock({ stopping }) {
      guard let link = LineSocket.connect(host: address.host, port: address.port) else {
        usleep(50_000)
        continue
      }
      link.send(.hello(serverID: serverID, last: lastProcessed))
      let resend = lock.withLock { () -> [WireRequest]? in
        if stopping { return nil }
        socket = link
        stats.connects += 1
        return pending.values.sorted { $0.request_id < $1.request_id }
      }
      guard let resend else { link.close(); break }
      for request in resend { link.send(.request(request)) }
      while let frame = link.receive() {
        switch frame.t {
        case "execution": if let e = frame.execution { process(e, on: link) }
        case "answer": if let a = frame.answer { answered(a) }
        default: break
        }
      }
      lock.withLock { socket = nil }
      link.close()
      if !lock.withLock({ stopping }) { usleep(50_000) }
    }
  }

  private func process(_ e: WireExecution, on link: LineSocket) {
    guard e.execution_id > lastProcessed else {
      lock.withLock { stats.duplicates += 1 }
      return
    }
    let request = lock.withLock { pending[e.request_id] }
    apply?(e, request)
    lastProcessed = e.execution_id
    persist()
    link.send(.ack(e.execution_id))
    // Only now may the run end: the confirmation is on its way.
    lock.withLock {
      if request == nil { stats.orphans += 1 }
      else if e.action == UInt32(TS_TE_ORDER_FILL) { stats.fills += 1 } else { stats.rejects += 1 }
      if e.isFinal { pending[e.request_id] = nil }
    }
  }

  private func answered(_ answer: WireAnswer) {
    guard answer.retcode != Int32(TS_RET_REQUEST_PLACED), answer.retcode != Int32(TS_RET_REQUEST_DONE) else { return }
    guard let request = lock.withLock({ pending.removeValue(forKey: answer.request_id) }) else { return }
    lock.withLock { stats.answerRejects += 1 }
    rejectAnswered?(request)
  }
}
