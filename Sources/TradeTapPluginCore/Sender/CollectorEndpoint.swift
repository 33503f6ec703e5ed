/// One collector address from the `Collector` parameter: `host:port`, or `[v6]:port`.
public struct CollectorEndpoint: Sendable, Hashable, CustomStringConvertible {
  /// Host name or IP literal (without brackets).
  public var host: String
  public var port: UInt16

  public init(host: String, port: UInt16) {
    self.host = host
    self.port = port
  }

  /// Parses `host:port` or `[ipv6]:port`; nil when the text is not one of these.
  public init?(parsing text: Substring) {
    let trimmed = text.trimmingSpaces()
    let hostPart: Substring
    let portPart: Substring
    if trimmed.first == "[" {
      guard let close = trimmed.firstIndex(of: "]") else { return nil }
      hostPart = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
      let rest = trimmed[trimmed.index(after: close)...]
      guard rest.first == ":" else { return nil }
      portPart = rest.dropFirst()
    } else {
      guard let colon = trimmed.lastIndex(of: ":") else { return nil }
      hostPart = trimmed[..<colon]
      portPart = trimmed[trimmed.index(after: colon)...]
      if hostPart.contains(":") { return nil }  // a bare IPv6 address needs brackets
    }
    guard !hostPart.isEmpty, let port = UInt16(portPart), port != 0 else { return nil }
    self.host = String(hostPart)
    self.port = port
  }

  /// Parses the whole `Collector` parameter: a comma list, tried in order.
  /// Returns nil when it is empty or any element is malformed.
  public static func list(parsing text: String) -> [CollectorEndpoint]? {
    var endpoints: [CollectorEndpoint] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      guard let endpoint = CollectorEndpoint(parsing: part) else { return nil }
      endpoints.append(endpoint)
    }
    return endpoints.isEmpty ? nil : endpoints
  }

  public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension Substring {
  func trimmingSpaces() -> Substring {
    var s = self
    while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
    while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
    return s
  }
}
