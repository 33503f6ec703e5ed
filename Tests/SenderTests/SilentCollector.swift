import Foundation
import Glibc
import Synchronization
import TradeTapWire

/// A collector that completes the real handshake (TradeTapWire's `ServerHandshake`)
/// over a real loopback socket, asks for a short heartbeat interval, and then never
/// sends another byte: the silent peer the sender must declare dead.
final class SilentCollector: @unchecked Sendable {
  let port: UInt16
  private let listener: Int32
  let connections = Atomic<Int>(0)
  let heartbeatsReceived = Atomic<Int>(0)
  private let secret: [UInt8]
  private let heartbeatMillis: UInt32

  init(secret: String, heartbeatMillis: UInt32) throws {
    self.secret = Array(secret.utf8)
    self.heartbeatMillis = heartbeatMillis
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
    guard ok else { throw TestFailure("silent collector cannot listen") }
    port = UInt16(bigEndian: address.sin_port)
    Thread { [self] in acceptLoop() }.start()
  }

  /// Stops accepting (the accept loop ends when the socket is shut down).
  func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }

  private func acceptLoop() {
    while true {
      let client = accept(listener, nil, nil)
      if client < 0 { return }
      connections.add(1, ordering: .relaxed)
      Thread { [self] in serve(client) }.start()
    }
  }

  private func serve(_ fd: Int32) {
    defer { Glibc.close(fd) }
    var decoder = FrameDecoder()
    var handshake = try! ServerHandshake(serverNonce: Array(repeating: 0xA5, count: 32))
    var guardian = NonceReplayGuard()
    var buffer = [UInt8](repeating: 0, count: 65536)
    var welcomed = false
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n <= 0 { return }
      buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
      while let frame = try? decoder.nextFrame(), let message = try? Message(frame: frame) {
        if welcomed {
          if case .heartbeat = message { heartbeatsReceived.add(1, ordering: .relaxed) }
          continue  // silent from here on
        }
        let secret = self.secret
        guard let step = try? handshake.receive(message, secrets: { _ in secret }, replayGuard: &guardian) else { return }
        let reply: Message
        switch step {
        case .send(let message): reply = message
        case .authenticated:
          guard let welcome = try? handshake.makeWelcome(lastDurableSequence: 0, heartbeatMillis: heartbeatMillis) else { return }
          reply = welcome
          welcomed = true
        }
        let bytes = FrameEncoder().encode(reply)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      }
    }
  }
}
