import Foundation
import TradeServerAPI

// The sim ↔ gateway link (docs/gateway.md, "The sim ↔ gateway protocol"): JSON Lines
// over one loopback TCP connection, one object per line (at most 64 KiB), each with
// its type in "t". The trade server speaks first.
//   server → gateway  {"t":"hello","server_id":S,"last_execution_id":N}
//                     {"t":"request","request":{...}}
//                     {"t":"ack","execution_id":N}            processed through N
//   gateway → server  {"t":"welcome","gateway_id":G}
//                     {"t":"answer","answer":{...}}
//                     {"t":"execution","execution":{...}}     ids strictly increasing

/// A trade request the server routes (the fields of `ts_request` it fills).
public struct WireRequest: Codable, Sendable, Equatable {
  public var request_id: UInt64
  public var server_id: UInt32
  public var login: UInt64
  public var group: String
  public var symbol: String
  public var digits: UInt32
  public var action: UInt32
  public var type: UInt32
  public var volume_ext: UInt64
  public var order: UInt64
  public var position_id: UInt64
  public var price_order: Double
  public var price_bid: Double
  public var price_ask: Double
  public var comment: String

  public init(request_id: UInt64, server_id: UInt32, login: UInt64, group: String, symbol: String, digits: UInt32,
              action: UInt32, type: UInt32, volume_ext: UInt64, order: UInt64, position_id: UInt64,
              price_order: Double, price_bid: Double, price_ask: Double, comment: String) {
    self.request_id = request_id; self.server_id = server_id; self.login = login; self.group = group
    self.symbol = symbol; self.digits = digits; self.action = action; self.type = type; self.volume_ext = volume_ext
    self.order = order; self.position_id = position_id; self.price_order = price_order; self.price_bid = price_bid
    self.price_ask = price_ask; self.comment = comment
  }
}

/// The gateway's answer (the fields of `ts_confirm`).
public struct WireAnswer: Codable, Sendable, Equatable {
  public var request_id: UInt64
  public var server_id: UInt32
  public var retcode: Int32
  public var order: UInt64
  public var comment: String
}

/// An execution (the fields of `ts_execution` the server uses).
public struct WireExecution: Codable, Sendable, Equatable {
  public var execution_id: UInt64
  public var server_id: UInt32
  public var action: UInt32
  public var request_id: UInt64
  public var login: UInt64
  public var symbol: String
  public var digits: UInt32
  public var order: UInt64
  public var order_external_id: String
  public var deal_external_id: String
  public var deal_action: UInt32
  public var deal_volume_ext: UInt64
  public var deal_volume_remaining_ext: UInt64
  public var deal_price: Double
  public var position_id: UInt64
  public var external_retcode: Int32
  public var time_msc: Int64

  /// Whether the server is done with the request after it: a reject, or the last fill.
  public var isFinal: Bool { action != UInt32(TS_TE_ORDER_FILL) || deal_volume_remaining_ext == 0 }
}

/// One line of the link.
public struct GatewayFrame: Codable, Sendable {
  public var t: String
  public var server_id: UInt32?
  public var last_execution_id: UInt64?
  public var gateway_id: UInt32?
  public var execution_id: UInt64?
  public var request: WireRequest?
  public var answer: WireAnswer?
  public var execution: WireExecution?

  public init(t: String) { self.t = t }

  public static func hello(serverID: UInt32, last: UInt64) -> GatewayFrame {
    var f = GatewayFrame(t: "hello"); f.server_id = serverID; f.last_execution_id = last; return f
  }
  public static func ack(_ id: UInt64) -> GatewayFrame { var f = GatewayFrame(t: "ack"); f.execution_id = id; return f }
  public static func request(_ r: WireRequest) -> GatewayFrame { var f = GatewayFrame(t: "request"); f.request = r; return f }
  public static func welcome(_ id: UInt32) -> GatewayFrame { var f = GatewayFrame(t: "welcome"); f.gateway_id = id; return f }
  public static func answer(_ a: WireAnswer) -> GatewayFrame { var f = GatewayFrame(t: "answer"); f.answer = a; return f }
  public static func execution(_ e: WireExecution) -> GatewayFrame { var f = GatewayFrame(t: "execution"); f.execution = e; return f }
}

/// A connected stream socket that reads and writes JSON lines. Writes are locked
/// (several threads send); one thread reads.
public final class LineSocket: @unchecked Sendable {
  public static let maxLine = 64 * 1024
  private let fd: Int32
  private var buffer: [UInt8] = []
  private var start = 0
  private let writeLock = NSLock()
  private var closed = false
  private let encoder = JSONEncoder()

  public init(fd: Int32) {
    self.fd = fd
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
  }

  deinit { close() }

  /// Connects to HOST:PORT (IPv4 dotted or `localhost`); nil when nobody listens.
  public static func connect(host: String, port: UInt16) -> LineSocket? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr(host == "localhost" ? "127.0.0.1" : host)
    let ok = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
    guard ok else { Glibc.close(fd); return nil }
    return LineSocket(fd: fd)
  }

  /// Sends one frame; false once the peer is gone.
  @discardableResult
  public func send(_ frame: GatewayFrame) -> Bool {
    writeLock.lock()
    defer { writeLock.unlock() }
    guard !closed, var data = try? encoder.encode(frame) else { return false }
    data.append(UInt8(ascii: "\n"))
    return data.withUnsafeBytes { raw -> Bool in
      var offset = 0
      while offset < raw.count {
        let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return false }
        offset += n
      }
      return true
    }
  }

  /// The next frame; nil at end of stream, on an error, or on a line that is too
  /// long or not a frame (the link is then dropped by the caller).
  public func receive() -> GatewayFrame? {
    while true {
      if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
        let line = Data(buffer[start..<newline])
        start = newline + 1
        if start > 1 << 16 { buffer.removeFirst(start); start = 0 }
        return try? JSONDecoder().decode(GatewayFrame.self, from: line)
      }
      guard buffer.count - start < Self.maxLine else { return nil }
      var chunk = [UInt8](repeating: 0, count: 16 * 1024)
      let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { return nil }
      buffer.append(contentsOf: chunk[0..<n])
    }
  }

  /// Ends the connection both ways (a blocked `receive` returns nil).
  public func shutdownBoth() { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

  public func close() {
    writeLock.lock()
    defer { writeLock.unlock() }
    guard !closed else { return }
    closed = true
    Glibc.shutdown(fd, Int32(SHUT_RDWR))
    Glibc.close(fd)
  }
}

/// HOST:PORT, IPv4 or `localhost`.
public struct GatewayAddress: Sendable, Equatable, CustomStringConvertible {
  public var host: String
  public var port: UInt16
  public init?(_ text: String) {
    guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
    let host = String(text[..<colon])
    guard host == "localhost" || inet_addr(host) != INADDR_NONE else { return nil }
    self.host = host
    self.port = port
  }
  public var description: String { "\(host):\(port)" }
}

/// MT5-style group masks: comma-separated, `*` matches any run of characters,
/// a leading `!` excludes; the last mask that matches decides.
public struct GroupMask: Sendable {
  private let masks: [(exclude: Bool, pattern: [Character])]
  public init(_ text: String) {
    masks = text.split(separator: ",").map { part in
      let trimmed = part.trimmingCharacters(in: .whitespaces)
      return trimmed.hasPrefix("!") ? (true, Array(trimmed.dropFirst())) : (false, Array(trimmed))
    }
  }
  public func matches(_ group: String) -> Bool {
    let name = Array(group)
    var result = false
    for mask in masks where Self.wildcard(mask.pattern[...], name[...]) { result = !mask.exclude }
    return result
  }
  static func wildcard(_ p: ArraySlice<Character>, _ s: ArraySlice<Character>) -> Bool {
    guard let first = p.first else { return s.isEmpty }
    if first == "*" {
      var rest = s
      while true {
        if wildcard(p.dropFirst(), rest) { return true }
        guard !rest.isEmpty else { return false }
        rest = rest.dropFirst()
      }
    }
    guard let c = s.first, c.lowercased() == first.lowercased() else { return false }
    return wildcard(p.dropFirst(), s.dropFirst())
  }
}
