import Foundation

/// The demo's operator at the collector's HTTP API, over a plain loopback socket
/// (the demo's HTTP listener is on 127.0.0.1): reads `GET /metrics` samples, finds a
/// held reconciliation sweep and applies it as an operator would.
struct CollectorProbe {
  let host: String
  let port: UInt16
  let token: String

  func read() -> [String: Double] {
    guard let body = get(path: "/metrics") else { return [:] }
    var samples: [String: Double] = [:]
    for line in body.split(separator: "\n") where !line.hasPrefix("#") {
      guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
      samples[String(line[..<space])] = value
    }
    return samples
  }

  /// The newest sweep of `serverID` held over `--reconcile-max-deletions` (`GET /v1/servers`), if any.
  func heldSweep(serverID: UInt32) -> Int64? {
    guard let body = get(path: "/v1/servers"),
      let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
      let servers = object["servers"] as? [[String: Any]],
      let server = servers.first(where: { ($0["server_id"] as? NSNumber)?.uint32Value == serverID })
    else { return nil }
    return (server["held_sweep_id"] as? NSNumber)?.int64Value
  }

  /// `POST /v1/reconciliation/sweeps/{id}/apply`. - Returns: whether it answered 200.
  func applySweep(_ id: Int64) -> Bool {
    request(method: "POST", path: "/v1/reconciliation/sweeps/\(id)/apply", timeoutSeconds: 120)?.status == 200
  }

  /// A JSON request (the write API): the status and the decoded object, nil on a transport failure.
  func json(method: String, path: String, body: String = "", headers: [String: String] = [:]) -> (status: Int, object: [String: Any])? {
    guard let (status, text) = request(method: method, path: path, body: body, headers: headers, timeoutSeconds: 10) else { return nil }
    let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    return (status, object ?? [:])
  }

  /// A GET's body when it answered 200 (also used for nats-server's monitoring port).
  func text(path: String) -> String? { get(path: path) }

  private func get(path: String) -> String? {
    guard let (status, body) = request(method: "GET", path: path, timeoutSeconds: 2), status == 200 else { return nil }
    return body
  }

  /// A minimal HTTP/1.1 request with `Connection: close`; nil on any transport failure
  /// (the demo shows progress best-effort and never fails because of a probe).
  private func request(
    method: String, path: String, body: String = "", headers: [String: String] = [:], timeoutSeconds: Int
  ) -> (status: Int, body: String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer \(token)\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    if method == "POST" { request += "Content-Length: \(body.utf8.count)\r\n" }
    request += "Connection: close\r\n\r\n" + body
    guard Array(request.utf8).withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.utf8.count else { return nil }
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 16_384)
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n <= 0 { break }
      response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.1 "), let status = Int(text.dropFirst(9).prefix(3)), let split = text.range(of: "\r\n\r\n")
    else { return nil }
    return (status, String(text[split.upperBound...]))
  }
}
