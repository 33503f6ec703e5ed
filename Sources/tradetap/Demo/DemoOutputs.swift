import Foundation
import Synchronization
import TradeTapWire

/// The destinations `tradetap demo --webhook` and `--nats-cluster` run next to the
/// collector, so the push outputs (docs/outputs.md) are seen end to end: a receiver
/// that checks every signature and applies each change once by id, and a throwaway
/// three-node NATS JetStream cluster holding the R3 stream.
struct DemoOutputs {
  var webhook: DemoWebhookReceiver?
  var nats: DemoNATSCluster?

  /// The collector's flags for them.
  func collectorArguments(webhookSecretFile: String) -> [String] {
    var arguments: [String] = []
    if let webhook { arguments += ["--webhook", webhook.url, "--webhook-secret-file", webhookSecretFile] }
    if let nats { arguments += ["--nats", nats.urls, "--nats-replicas", "3"] }
    return arguments
  }

  var isEmpty: Bool { webhook == nil && nats == nil }

  func stop() {
    webhook?.stop()
    nats?.stop()
  }

  /// One output of `GET /v1/outputs`.
  struct Reading {
    let name: String
    let kind: String
    let target: String
    let cursor: Int64
    let lastChangeId: Int64
    let lagSeconds: Double
    let delivered: Int64
    let retries: Int64
    let deadLetters: Int64

    var lagChanges: Int64 { max(0, lastChangeId - cursor) }
  }

  static func read(_ desk: CollectorProbe) -> [Reading]? {
    guard let (status, object) = desk.json(method: "GET", path: "/v1/outputs"), status == 200,
      let outputs = object["outputs"] as? [[String: Any]]
    else { return nil }
    func int(_ value: Any?) -> Int64 { (value as? NSNumber)?.int64Value ?? (value as? String).flatMap { Int64($0) } ?? 0 }
    return outputs.map {
      Reading(
        name: $0["name"] as? String ?? "?", kind: $0["kind"] as? String ?? "?", target: $0["target"] as? String ?? "?",
        cursor: int($0["cursor"]), lastChangeId: int($0["last_change_id"]),
        lagSeconds: ($0["lag_seconds"] as? NSNumber)?.doubleValue ?? 0, delivered: int($0["delivered"]),
        retries: int($0["retries"]), deadLetters: int($0["dead_letters"]))
    }
  }

  static func line(_ reading: Reading) -> String {
    "output \(reading.name) (\(reading.kind) → \(reading.target)): cursor \(reading.cursor) of \(reading.lastChangeId), "
      + "lag \(reading.lagChanges) changes / \(String(format: "%.1f", reading.lagSeconds)) s, "
      + "\(reading.delivered) delivered, \(reading.retries) retries, \(reading.deadLetters) dead letters"
  }

  /// Waits until every output's cursor holds `lastChangeId` (the ledger's newest
  /// change), saying each output's lag once a second. Returns the last reading.
  func waitUntilCaughtUp(
    desk: CollectorProbe, lastChangeId: Int64, timeout: Duration = .seconds(90), say: (String) -> Void
  ) async throws -> [Reading] {
    let deadline = ContinuousClock.now + timeout
    var readings: [Reading] = []
    while true {
      readings = Self.read(desk) ?? readings
      let caughtUp = !readings.isEmpty && readings.allSatisfy { $0.cursor >= lastChangeId }
      if caughtUp || ContinuousClock.now >= deadline { return readings }
      say("demo: waiting for the outputs to deliver change \(lastChangeId): "
        + readings.map { "\($0.name) at \($0.cursor) (lag \(max(0, lastChangeId - $0.cursor)))" }.joined(separator: ", "))
      try await Task.sleep(for: .seconds(1))
    }
  }
}

/// A webhook receiver as a CRM would write one (docs/outputs.md): it verifies each
/// request's `TradeTap-Signature` (HMAC-SHA256 over `"<t>.<body>"`) and applies every
/// change at most once by its id. One connection at a time on its own thread; it
/// answers `Connection: close`, so the collector's client opens one per request.
final class DemoWebhookReceiver: Sendable {
  struct Tally: Sendable {
    var requests = 0
    var applied = Set<Int64>()
    var duplicates = 0
    var badSignatures = 0
    var maxId: Int64 = 0
  }

  let url: String
  private let socket: Int32
  private let secret: [UInt8]
  private let state = Mutex(Tally())
  private let stopping = Atomic<Bool>(false)

  init(secret: [UInt8]) throws {
    self.secret = secret
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw DemoFailure("webhook receiver: socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard bound else {
      close(fd)
      throw DemoFailure("webhook receiver: cannot listen on 127.0.0.1")
    }
    socket = fd
    url = "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/tradetap"
    let thread = Thread { [self] in acceptLoop() }
    thread.name = "demo-webhook"
    thread.start()
  }

  var tally: Tally { state.withLock { $0 } }

  func stop() {
    stopping.store(true, ordering: .relaxed)
    shutdown(socket, Int32(SHUT_RDWR))
  }

  private func acceptLoop() {
    while !stopping.load(ordering: .relaxed) {
      let connection = accept(socket, nil, nil)
      if connection < 0 {
        if errno == EINTR { continue }
        break
      }
      var timeout = timeval(tv_sec: 10, tv_usec: 0)
      setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      let status = serve(connection)
      let answer = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Bad Request")\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
      _ = Array(answer.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      close(connection)
    }
    close(socket)
  }

  /// Reads one request and applies it; the status to answer.
  private func serve(_ connection: Int32) -> Int {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var headerEnd: Int?
    var contentLength = 0
    var headers: [String: String] = [:]
    while headerEnd == nil || bytes.count < headerEnd! + contentLength {
      let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
      guard n > 0 else { return 400 }
      bytes += buffer[0..<n]
      guard bytes.count <= 64 << 20 else { return 400 }  // the collector's batches are far smaller
      if headerEnd == nil, let end = Self.find([13, 10, 13, 10], in: bytes) {
        headerEnd = end + 4
        for line in String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n").dropFirst() {
          guard let colon = line.firstIndex(of: ":") else { continue }
          headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        contentLength = Int(headers["content-length"] ?? "") ?? 0
      }
    }
    let body = Array(bytes[headerEnd!..<(headerEnd! + contentLength)])
    guard verify(headers["tradetap-signature"] ?? "", body: body) else {
      state.withLock { $0.requests += 1; $0.badSignatures += 1 }
      return 400
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
      let changes = object["changes"] as? [[String: Any]]
    else { return 400 }
    state.withLock { tally in
      tally.requests += 1
      for change in changes {
        guard let id = (change["id"] as? NSNumber)?.int64Value else { continue }
        if tally.applied.insert(id).inserted { tally.maxId = max(tally.maxId, id) } else { tally.duplicates += 1 }
      }
    }
    return 200
  }

  /// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; a timestamp more
  /// than five minutes away is refused (a replayed request).
  private func verify(_ header: String, body: [UInt8]) -> Bool {
    var fields: [Substring: Substring] = [:]
    for part in header.split(separator: ",") {
      let pair = part.split(separator: "=", maxSplits: 1)
      if pair.count == 2 { fields[pair[0]] = pair[1] }
    }
    guard let t = fields["t"], let time = Int64(t), let v1 = fields["v1"],
      abs(Int64(Date().timeIntervalSince1970) - time) <= 300
    else { return false }
    let expected = HMACSHA256.authenticationCode(for: Array("\(t).".utf8) + body, key: secret)
      .map { String(format: "%02x", $0) }.joined()
    return expected.utf8.count == v1.utf8.count && zip(expected.utf8, v1.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
  }

  private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
      if Array(haystack[i..<(i + needle.count)]) == needle { return i }
    }
    return nil
  }
}

/// A throwaway three-node NATS JetStream cluster on loopback (Debian's `nats-server`),
/// each node with its own store in the demo's folder; the collector creates its R3
/// stream there.
final class DemoNATSCluster: Sendable {
  let urls: String
  private let monitors: [UInt16]
  private let nodes: [Process]

  init(folder: URL) throws {
    guard let server = Self.which("nats-server") else {
      throw DemoFailure("--nats-cluster needs nats-server on PATH (Debian: apt-get install nats-server)")
    }
    let ports = try (0..<9).map { _ in try Self.freePort() }
    let client = Array(ports[0..<3]), cluster = Array(ports[3..<6]), monitor = Array(ports[6..<9])
    let routes = cluster.map { "nats://127.0.0.1:\($0)" }.joined(separator: ",")
    var nodes: [Process] = []
    for i in 0..<3 {
      let node = Process()
      node.executableURL = URL(fileURLWithPath: server)
      node.arguments = [
        "-js", "-sd", folder.appendingPathComponent("nats-\(i + 1)").path, "-n", "n\(i + 1)", "-a", "127.0.0.1",
        "-p", String(client[i]), "-m", String(monitor[i]), "--cluster_name", "tradetap-demo",
        "--cluster", "nats://127.0.0.1:\(cluster[i])", "--routes", routes,
      ]
      let log = folder.appendingPathComponent("nats-\(i + 1).log").path
      FileManager.default.createFile(atPath: log, contents: nil)
      node.standardOutput = FileHandle(forWritingAtPath: log)
      node.standardError = FileHandle(forWritingAtPath: log)
      do { try node.run() } catch {
        for started in nodes { started.terminate() }
        throw DemoFailure("cannot start nats-server: \(error)")
      }
      nodes.append(node)
    }
    self.nodes = nodes
    monitors = monitor
    urls = client.map { "nats://127.0.0.1:\($0)" }.joined(separator: ",")
  }

  /// Waits until every node answers its health check with JetStream up.
  func waitReady(timeout: Duration = .seconds(20)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if monitors.allSatisfy({ Self.monitor($0, path: "/healthz?js-enabled-only=true")?.contains("ok") == true }) { return }
      if nodes.contains(where: { !$0.isRunning }) { break }
      try await Task.sleep(for: .milliseconds(200))
    }
    throw DemoFailure("the NATS cluster did not become healthy; see nats-*.log in the demo folder")
  }

  /// The stream's message count and leader, from the first node that knows it.
  func stream(_ name: String) -> (messages: Int64, leader: String)? {
    for port in monitors {
      guard let text = Self.monitor(port, path: "/jsz?accounts=true&streams=true"),
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
        let accounts = object["account_details"] as? [[String: Any]]
      else { continue }
      for account in accounts {
        for stream in account["stream_detail"] as? [[String: Any]] ?? [] where stream["name"] as? String == name {
          let messages = ((stream["state"] as? [String: Any])?["messages"] as? NSNumber)?.int64Value ?? 0
          let leader = (stream["cluster"] as? [String: Any])?["leader"] as? String ?? "?"
          return (messages, leader)
        }
      }
    }
    return nil
  }

  func stop() {
    for node in nodes where node.isRunning { node.terminate() }
    for node in nodes { node.waitUntilExit() }
  }

  private static func monitor(_ port: UInt16, path: String) -> String? {
    CollectorProbe(host: "127.0.0.1", port: port, token: "").text(path: path)
  }

  private static func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for folder in path.split(separator: ":") + ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
      let candidate = "\(folder)/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// A port the kernel just handed out on 127.0.0.1 (closed again for nats-server to take).
  private static func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard fd >= 0, bound else { throw DemoFailure("no free port on 127.0.0.1") }
    return UInt16(bigEndian: address.sin_port)
  }
}
