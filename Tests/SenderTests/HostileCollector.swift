import Foundation
import Glibc
import Synchronization
import TradeTapWire

/// A collector that holds the server's secret and lies: it completes the real
/// handshake (TradeTapWire's `ServerHandshake`) over a real loopback socket, then
/// answers with whatever its script says, connection by connection: the welcome's
/// durable sequence, the ack for each batch (or none), an error frame, a short
/// heartbeat interval, a close after so many events, or silence.
final class HostileCollector: @unchecked Sendable {
  /// What to answer on one connection (numbered from 0).
  struct Script: Sendable {
    var welcomeDurable: UInt64 = 0
    var heartbeatMillis: UInt32 = 1000
    /// The ack for a batch received, given its last sequence; nil: no ack.
    var ack: @Sendable (_ lastSequence: UInt64) -> UInt64? = { $0 }
    /// Sent right after the welcome.
    var errorAfterWelcome: String?
    /// Closes the connection once this many events arrived on it.
    var closeAfterEvents: Int?
    /// Never sends another byte after the welcome (heartbeats are only counted):
    /// the silent peer the sender must declare dead.
    var silentAfterWelcome = false
  }

  let port: UInt16
  private let listener: Int32
  private let secret: [UInt8]
  private let script: @Sendable (_ connection: Int) -> Script
  let connections = Atomic<Int>(0)
  let heartbeatsReceived = Atomic<Int>(0)
  /// Every event sequence received, per connection.
  private let received = Mutex<[Int: [UInt64]]>([:])

  init(secret: String, script: @escaping @Sendable (_ connection: Int) -> Script) throws {
    self.secret = Array(secret.utf8)
    self.script = script
    listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let fd = listener
    let ok = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 && listen(fd, 8) == 0
      }
    }
    guard ok else { throw TestFailure("hostile collector cannot listen") }
    port = UInt16(bigEndian: address.sin_port)
    Thread { [self] in acceptLoop() }.start()
  }

  func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }

  /// Sequences received on connection `index` (in arrival order).
  func sequences(onConnection index: Int) -> [UInt64] { received.withLock { $0[index] ?? [] } }
  /// Every sequence received on any connection.
  var allSequences: Set<UInt64> { received.withLock { Set($0.values.joined()) } }

  private func acceptLoop() {
    while true {
      let client = accept(listener, nil, nil)
      if client < 0 { return }
      let index = connections.add(1, ordering: .relaxed).oldValue
      Thread { [self] in serve(client, index: index, script: script(index)) }.start()
    }
  }

  private func serve(_ fd: Int32, index: Int, script: Script) {
    defer { Glibc.close(fd) }
    var decoder = FrameDecoder()
    var handshake = try! ServerHandshake(serverNonce: Array(repeating: 0xA5, count: 32))
    var guardian = NonceReplayGuard()
    var buffer = [UInt8](repeating: 0, count: 65536)
    var welcomed = false
    var eventsHere = 0
    func reply(_ message: Message) {
      let bytes = FrameEncoder().encode(message)
      _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n <= 0 { return }
      buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
      while let frame = try? decoder.nextFrame(), let message = try? Message(frame: frame) {
        if welcomed && script.silentAfterWelcome {
          if case .heartbeat = message { heartbeatsReceived.add(1, ordering: .relaxed) }
          continue
        }
        if welcomed {
          switch message {
          case .heartbeat(let beat):
            heartbeatsReceived.add(1, ordering: .relaxed)
            reply(.heartbeat(beat))
          case .eventBatch(let batch):
            received.withLock { $0[index, default: []].append(contentsOf: batch.events.map(\.sequence)) }
            eventsHere += batch.events.count
            if let last = batch.events.last?.sequence, let through = script.ack(last) {
              reply(.ack(Ack(throughSequence: through)))
            }
            if let limit = script.closeAfterEvents, eventsHere >= limit { return }
          default:
            continue
          }
          continue
        }
        let secret = self.secret
        guard let step = try? handshake.receive(message, secrets: { _ in secret }, replayGuard: &guardian) else { return }
        switch step {
        case .send(let message): reply(message)
        case .authenticated:
          guard let welcome = try? handshake.makeWelcome(
            lastDurableSequence: script.welcomeDurable, heartbeatMillis: script.heartbeatMillis)
          else { return }
          reply(welcome)
          welcomed = true
          if let text = script.errorAfterWelcome {
            reply(.error(ErrorMessage(code: .internalError, message: text)))
          }
        }
      }
    }
  }
}
