import NIOCore
import NIOPosix
import NIOSSL
import TradeTapCollector
import TradeTapEvents
import TradeTapWire

/// A real plugin-side peer over a real socket: the wire module's `ClientHandshake`,
/// frames through the collector's public codec, optional TLS 1.3.
final class TestPlugin {
  let channel: NIOAsyncChannel<Message, Message>
  private var inbound: NIOAsyncChannelInboundStream<Message>.AsyncIterator
  private let outbound: NIOAsyncChannelOutboundWriter<Message>

  /// Connects; with `tlsCAFile`, over TLS that trusts only that certificate.
  static func connect(port: Int, tlsCAFile: String? = nil, maximumTLSVersion: TLSVersion? = nil) async throws -> TestPlugin {
    let sslContext: NIOSSLContext? = try tlsCAFile.map { ca in
      var tls = TLSConfiguration.makeClientConfiguration()
      tls.trustRoots = .file(ca)
      if let maximumTLSVersion {
        tls.minimumTLSVersion = .tlsv1
        tls.maximumTLSVersion = maximumTLSVersion
      } else {
        tls.minimumTLSVersion = .tlsv13
      }
      return try NIOSSLContext(configuration: tls)
    }
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          let sync = channel.pipeline.syncOperations
          if let sslContext {
            try sync.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: "localhost"))
          }
          try sync.addHandler(ByteToMessageHandler(WireMessageDecoder()))
          try sync.addHandler(MessageToByteHandler(WireMessageEncoder()))
          return try NIOAsyncChannel<Message, Message>(wrappingChannelSynchronously: channel)
        }
      }
    return TestPlugin(channel: channel)
  }

  private init(channel: NIOAsyncChannel<Message, Message>) {
    self.channel = channel
    self.inbound = channel.inbound.makeAsyncIterator()
    self.outbound = channel.outbound
  }

  func send(_ message: Message) async throws { try await outbound.write(message) }

  /// Sends `messages` in one write (one flush): they arrive in as few reads as TCP allows.
  func send(all messages: [Message]) async throws { try await outbound.write(contentsOf: messages) }

  /// The next message, or `nil` once the collector closed the connection.
  func receive() async throws -> Message? { try await inbound.next() }

  /// The next message that is not a heartbeat.
  func receiveSkippingHeartbeats() async throws -> Message? {
    while let message = try await receive() {
      if case .heartbeat = message { continue }
      return message
    }
    return nil
  }

  /// Runs the client handshake; returns the welcome, or throws the refusal.
  func handshake(serverId: UInt32, secret: String, nonce: [UInt8]? = nil, server: ServerIdentity? = nil) async throws -> Welcome {
    var nonceBytes = nonce ?? (0..<32).map { _ in UInt8.random(in: 0...255) }
    if nonceBytes.count != 32 { nonceBytes = Array(nonceBytes.prefix(32)) }
    var client = try ClientHandshake(serverId: serverId, secret: Array(secret.utf8), clientNonce: nonceBytes, server: server)
    try await send(client.start())
    while true {
      guard let message = try await receiveSkippingHeartbeats() else { throw TestPluginError.closed }
      switch try client.receive(message) {
      case .send(let reply): try await send(reply)
      case .established(let welcome): return welcome
      }
    }
  }

  /// Sends events `first...last` in batches of `batchSize` (consecutive sequences).
  func sendEvents(_ range: ClosedRange<UInt64>, serverId: UInt32, batchSize: Int = 500) async throws {
    var next = range.lowerBound
    while next <= range.upperBound {
      let last = min(range.upperBound, next + UInt64(batchSize) - 1)
      let events = (next...last).map { EventFactory.deal(seq: $0, serverId: serverId) }
      try await send(.eventBatch(EventBatch(firstSequence: next, events: events)))
      next = last + 1
    }
  }

  /// Waits for the ack that covers `sequence`; returns it.
  func awaitAck(through sequence: UInt64) async throws -> Ack {
    while let message = try await receiveSkippingHeartbeats() {
      if case .ack(let ack) = message, ack.throughSequence >= sequence { return ack }
      if case .error(let error) = message { throw TestPluginError.refused(error) }
    }
    throw TestPluginError.closed
  }

  func close() async {
    outbound.finish()
    try? await channel.channel.close()
  }

  // NIOAsyncChannel requires its writer to be finished before it goes away.
  deinit { outbound.finish() }
}

enum TestPluginError: Error {
  case closed
  case refused(ErrorMessage)
}

/// Realistic events: each sequence number is its own deal (ticket 10,000 + seq).
enum EventFactory {
  static func deal(seq: UInt64, serverId: UInt32) -> Event {
    let time = BrokerTime(brokerMilliseconds: 1_764_000_000_000 + Int64(seq), utcOffsetMinutes: 120)
    let deal = Deal(
      deal: 10_000 + seq, externalId: "", login: 1000 + seq % 50, order: 20_000 + seq, positionId: 30_000 + seq,
      action: seq % 2 == 0 ? .buy : .sell, entry: .in, reason: 0, symbol: "EURUSD", digits: 5, currencyDigits: 2,
      time: time, price: ExactDecimal("1.08345")!, volumeExt: 10_000_000, contractSize: ExactDecimal("100000")!,
      profit: ExactDecimal("0.00")!, commission: ExactDecimal("-0.70")!, storage: ExactDecimal("0.00")!,
      fee: ExactDecimal("0.00")!, comment: "")
    return Event(
      serverId: serverId, sequence: seq, kind: .dealAdd, hookTimestampNanos: seq, utcOffsetMinutes: 120,
      body: .deal(deal))
  }
}

/// A raw TCP peer for bytes that are not the protocol (garbage, HTTP, plaintext to TLS).
enum RawPeer {
  /// Writes `bytes`, then returns everything received until the peer closes.
  static func exchange(port: Int, _ bytes: [UInt8]) async throws -> [UInt8] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    return try await channel.executeThenClose { inbound, outbound in
      try await outbound.write(ByteBuffer(bytes: bytes))
      var received: [UInt8] = []
      for try await var chunk in inbound { received += chunk.readBytes(length: chunk.readableBytes) ?? [] }
      return received
    }
  }

  /// A `GET` with an optional bearer token; returns the status code and body.
  static func httpGet(port: Int, path: String, token: String? = nil) async throws -> (Int, String) {
    var request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if let token { request += "Authorization: Bearer \(token)\r\n" }
    request += "\r\n"
    let response = String(decoding: try await exchange(port: port, Array(request.utf8)), as: UTF8.self)
    let status = Int(response.split(separator: " ").dropFirst().first ?? "") ?? 0
    let body = response.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
    return (status, body)
  }
}
