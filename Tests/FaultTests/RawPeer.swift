import Foundation
import Glibc
import TradeTapWire

/// A plain TCP peer that writes whatever bytes a test wants: the hostile side of
/// the protocol port.
final class RawPeer {
  let fd: Int32

  init(port: Int) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
      let error = errno
      close(fd)
      throw Artifacts.Missing(path: "connect: errno \(error)")
    }
  }

  deinit { close(fd) }

  /// Writes all bytes (ignores a peer that already closed: that is an outcome, not an error).
  func send(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let wrote = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if wrote <= 0 { return }
      offset += wrote
    }
  }

  /// Reads until the collector closes or `seconds` pass. Returns the bytes, whether
  /// the connection was closed, and when (seconds after the call).
  func readUntilClosed(seconds: Double) -> (bytes: [UInt8], closed: Bool, after: Double) {
    let start = Date()
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while Date().timeIntervalSince(start) < seconds {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&poller, 1, 100)
      if ready <= 0 { continue }
      let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if got <= 0 { return (bytes, true, Date().timeIntervalSince(start)) }
      bytes += buffer[0..<got]
    }
    return (bytes, false, Date().timeIntervalSince(start))
  }

  /// The messages in what the collector sent.
  static func messages(in bytes: [UInt8]) -> [Message] {
    var decoder = FrameDecoder()
    decoder.append(bytes)
    var messages: [Message] = []
    while let frame = try? decoder.nextFrame() {
      if let message = try? Message(frame: frame) { messages.append(message) }
    }
    return messages
  }

  /// The error code of the collector's last frame, if it was an error.
  static func errorCode(in bytes: [UInt8]) -> UInt16? {
    if case .error(let e)? = messages(in: bytes).last { return e.code.rawValue }
    return nil
  }

  /// Runs the client side of the handshake and returns as soon as the welcome
  /// arrives (true), or on a refusal, a close or 5 s (false): for peers that go on
  /// talking at once.
  func authenticate(serverId: UInt32, secret: String) -> Bool {
    let nonce = (0..<32).map { _ in UInt8.random(in: 0...255) }
    guard var client = try? ClientHandshake(serverId: serverId, secret: Array(secret.utf8), clientNonce: nonce) else {
      return false
    }
    send(FrameEncoder().encode(client.start()))
    var decoder = FrameDecoder()
    var buffer = [UInt8](repeating: 0, count: 4096)
    let start = Date()
    while Date().timeIntervalSince(start) < 5 {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 100) > 0 else { continue }
      let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if got <= 0 { return false }
      decoder.append(buffer[0..<got])
      while let frame = try? decoder.nextFrame() {
        guard let message = try? Message(frame: frame) else { return false }
        switch try? client.receive(message) {
        case .send(let reply)?: send(FrameEncoder().encode(reply))
        case .established?: return true
        case nil: return false
        }
      }
    }
    return false
  }

  /// Runs the client side of the handshake as `serverId` with `secret`: returns the
  /// collector's reply to the authenticate message (welcome or error).
  func handshake(serverId: UInt32, secret: String) -> [UInt8] {
    var nonce = [UInt8](repeating: 0, count: 32)
    for i in nonce.indices { nonce[i] = UInt8.random(in: 0...255) }
    guard var client = try? ClientHandshake(serverId: serverId, secret: Array(secret.utf8), clientNonce: nonce) else {
      return []
    }
    send(FrameEncoder().encode(client.start()))
    var decoder = FrameDecoder()
    var buffer = [UInt8](repeating: 0, count: 4096)
    var received: [UInt8] = []
    let start = Date()
    while Date().timeIntervalSince(start) < 5 {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 100) > 0 else { continue }
      let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if got <= 0 { return received }
      received += buffer[0..<got]
      decoder.append(buffer[0..<got])
      if let frame = try? decoder.nextFrame(), let message = try? Message(frame: frame), case .challenge = message {
        if case .send(let authenticate)? = try? client.receive(message) {
          send(FrameEncoder().encode(authenticate))
        }
        received = []
        return received + readUntilClosed(seconds: 3).bytes
      }
    }
    return received
  }
}
