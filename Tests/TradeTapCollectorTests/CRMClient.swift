import Foundation
import NIOCore
import NIOPosix
import TradeTapEvents
import TradeTapWire

/// A small HTTP/1.1 client over a real socket for the CRM API tests: plain
/// requests (`Connection: close`), and a Server-Sent Events reader that decodes
/// chunked transfer encoding as it arrives.
struct CRMClient {
  let port: Int
  var token: String? = Harness.token

  struct Reply {
    var status: Int
    var headers: [String: String]
    var body: String
    /// The body parsed as a JSON object (empty when it is not one).
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
  }

  func get(_ path: String, token: String?? = nil, headers extra: [String: String] = [:]) async throws -> Reply {
    let bytes = try await RawPeer.exchange(port: port, request(path, token: token ?? self.token, extra))
    return Self.parse(bytes)
  }

  /// A POST with an empty body.
  func post(_ path: String, token: String?? = nil) async throws -> Reply {
    let bytes = try await RawPeer.exchange(
      port: port, request(path, token: token ?? self.token, ["Content-Length": "0"], method: "POST"))
    return Self.parse(bytes)
  }

  func request(_ path: String, token: String?, _ extra: [String: String] = [:], method: String = "GET") -> [UInt8] {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if let token { text += "Authorization: Bearer \(token)\r\n" }
    for (name, value) in extra { text += "\(name): \(value)\r\n" }
    return Array((text + "\r\n").utf8)
  }

  static func parse(_ bytes: [UInt8]) -> Reply {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return Reply(status: 0, headers: [:], body: "") }
    let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    var body = String(text[split.upperBound...])
    if headers["transfer-encoding"] == "chunked" { body = dechunk(body).text }
    return Reply(status: status, headers: headers, body: body)
  }

  /// Decodes complete chunks of a chunked body; `complete` once the last chunk arrived.
  static func dechunk(_ raw: String) -> (text: String, complete: Bool) {
    var bytes = Substring(raw).utf8[...]
    var out: [UInt8] = []
    while let lineEnd = bytes.firstRange(of: "\r\n".utf8) {
      let sizeText = String(decoding: bytes[..<lineEnd.lowerBound], as: UTF8.self)
      guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { break }
      if size == 0 { return (String(decoding: out, as: UTF8.self), true) }
      let start = lineEnd.upperBound
      guard bytes.distance(from: start, to: bytes.endIndex) >= size + 2 else { break }
      let end = bytes.index(start, offsetBy: size)
      out += bytes[start..<end]
      bytes = bytes[bytes.index(end, offsetBy: 2)...]
    }
    return (String(decoding: out, as: UTF8.self), false)
  }

  /// Opens `path` as an event stream, calls `opened` once the response head
  /// arrived, then reads until `until` holds for the decoded body (or 15 s pass).
  func stream(
    _ path: String, headers extra: [String: String] = [:], opened: () async throws -> Void,
    until: @escaping @Sendable (String) -> Bool
  ) async throws -> (status: Int, body: String) {
    let request = request(path, token: token, extra)
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    let (heads, headArrived) = AsyncStream<Void>.makeStream()
    return try await withThrowingTaskGroup(of: (Int, String)?.self) { group in
      group.addTask {
        defer { headArrived.finish() }
        return try await channel.executeThenClose { inbound, outbound in
          try await outbound.write(ByteBuffer(bytes: request))
          var received: [UInt8] = []
          for try await var chunk in inbound {
            received += chunk.readBytes(length: chunk.readableBytes) ?? []
            let reply = Self.parse(received)
            guard reply.status != 0 else { continue }
            headArrived.yield()
            if reply.status != 200 || until(reply.body) { return (reply.status, reply.body) }
          }
          let reply = Self.parse(received)
          return (reply.status, reply.body)
        }
      }
      group.addTask {
        try await Task.sleep(for: .seconds(15))
        headArrived.finish()
        return nil
      }
      for await _ in heads { break }
      try await opened()
      let first = try await group.next()!
      group.cancelAll()
      guard let result = first else { throw CRMClientError.streamTimedOut }
      return result
    }
  }
}

enum CRMClientError: Error { case streamTimedOut }

/// Events for the API tests: accounts, deals, positions and balance operations on
/// server 7, broker time = UTC + 2 h.
enum CRMEvents {
  static let offset: Int32 = 120
  /// Broker milliseconds of 2025-11-24T16:00:00Z + `second` seconds, as broker time.
  static func time(_ second: Int64) -> BrokerTime {
    BrokerTime(brokerMilliseconds: 1_764_000_000_000 + Int64(offset) * 60_000 + second * 1000, utcOffsetMinutes: offset)
  }

  static func user(seq: UInt64, login: UInt64, name: String, balance: String, comment: String = "") -> Event {
    let user = User(
      login: login, group: "real\\pro", name: name, email: "x@example.com", country: "DE", currency: "EUR",
      currencyDigits: 2, leverage: 100, marginMode: .retailHedging, balance: ExactDecimal(balance)!,
      credit: ExactDecimal("50.00")!, registration: time(0), lastUpdate: time(Int64(seq)), comment: comment)
    return Event(
      serverId: Harness.serverId, sequence: seq, kind: .userAdd, hookTimestampNanos: seq, utcOffsetMinutes: offset,
      body: .user(user))
  }

  static func deal(seq: UInt64, deal: UInt64, login: UInt64, second: Int64, action: DealAction = .buy, profit: String = "0.00", comment: String = "") -> Event {
    let d = Deal(
      deal: deal, externalId: "", login: login, order: deal + 100_000, positionId: deal + 200_000, action: action,
      entry: .in, reason: 0, symbol: "EURUSD", digits: 5, currencyDigits: 2, time: time(second),
      price: ExactDecimal("1.08345")!, volumeExt: 10_000_000, contractSize: ExactDecimal("100000")!,
      profit: ExactDecimal(profit)!, commission: ExactDecimal("-0.70")!, storage: ExactDecimal("0.00")!,
      fee: ExactDecimal("0.00")!, comment: comment)
    return Event(
      serverId: Harness.serverId, sequence: seq, kind: .dealAdd, hookTimestampNanos: seq, utcOffsetMinutes: offset,
      body: .deal(d))
  }

  static func position(seq: UInt64, position: UInt64, login: UInt64, second: Int64) -> Event {
    let p = Position(
      position: position, login: login, symbol: "XAUUSD", action: .buy, digits: 2, volumeExt: 1_000_000,
      priceOpen: ExactDecimal("2650.10")!, priceCurrent: ExactDecimal("2651.00")!, profit: ExactDecimal("9.00")!,
      storage: ExactDecimal("0.00")!, timeCreate: time(second), timeUpdate: time(second), comment: "")
    return Event(
      serverId: Harness.serverId, sequence: seq, kind: .positionAdd, hookTimestampNanos: seq,
      utcOffsetMinutes: offset, body: .position(p))
  }
}

extension TestPlugin {
  /// Sends `events` (consecutive sequences) as one batch and waits for their ack.
  func deliver(_ events: [Event]) async throws {
    try await send(.eventBatch(EventBatch(firstSequence: events[0].sequence, events: events)))
    _ = try await awaitAck(through: events.last!.sequence)
  }
}
