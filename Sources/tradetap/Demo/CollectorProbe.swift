import Foundation

/// Reads the collector's `GET /metrics` over a plain loopback socket (the demo's
/// HTTP listener is on 127.0.0.1) and returns each sample as name{labels} → value.
struct MetricsProbe {
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

  /// A minimal HTTP/1.1 GET with `Connection: close`; nil on any failure (the
  /// demo shows progress best-effort and never fails because of a probe).
  private func get(path: String) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n"
    guard Array(request.utf8).withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.utf8.count else { return nil }
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 16_384)
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n <= 0 { break }
      response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.1 200"), let split = text.range(of: "\r\n\r\n") else { return nil }
    return String(text[split.upperBound...])
  }
}
