import Foundation
import Glibc
import Testing
import TradeTapWire

/// Issue 6's hostile input on the protocol port of a real `tradetap collector`
/// process: each attack is refused with its specific error frame and a log line,
/// writes nothing to the ledger, and leaves the collector serving honest peers.
@Suite("Hostile input: the protocol port refuses garbage, liars and idlers", .serialized)
struct HostileInputTests {
  /// A frame header: magic, version, type, flags, payload length, CRC32C.
  static func header(version: UInt8 = 1, type: UInt8 = 1, length: UInt32, crc: UInt32 = 0) -> [UInt8] {
    Array("TTAP".utf8) + [version, type, 0, 0] + withUnsafeBytes(of: length.littleEndian, Array.init)
      + withUnsafeBytes(of: crc.littleEndian, Array.init)
  }

  static func hello(serverId: UInt32 = 1) -> [UInt8] {
    FrameEncoder().encode(.hello(Hello(serverId: serverId, clientNonce: Array(repeating: 7, count: 32), software: "hostile")))
  }

  /// After an attack: nothing in the ledger, the collector alive and still welcoming
  /// a peer that holds the secret.
  static func expectUnharmed(_ collector: CollectorUnderTest, _ attack: String) throws {
    #expect(collector.isRunning, "\(attack): the collector died")
    #expect(try collector.ledgerCount("SELECT count(*) FROM events") == 0, "\(attack): events were written")
    let honest = try RawPeer(port: collector.port)
    let reply = RawPeer.messages(in: honest.handshake(serverId: 1, secret: CollectorUnderTest.secrets[1]!))
    guard case .welcome? = reply.first else {
      Issue.record("\(attack): an honest peer was not welcomed afterwards: \(reply)")
      return
    }
  }

  /// Sends `bytes` and expects the error frame `code`, a closed connection and one more
  /// log line containing `logged`.
  static func expectRefused(_ bytes: [UInt8], code: UInt16, logged: String, attack: String) throws {
    let collector = try CollectorUnderTest()
    defer { collector.stop() }
    let before = collector.logLines(containing: logged)
    let peer = try RawPeer(port: collector.port)
    peer.send(bytes)
    let answer = peer.readUntilClosed(seconds: 5)
    #expect(answer.closed, "\(attack): the connection stayed open")
    #expect(RawPeer.errorCode(in: answer.bytes) == code, "\(attack): \(RawPeer.messages(in: answer.bytes))")
    usleep(200_000)  // the log line is written as the connection closes
    #expect(collector.logLines(containing: logged) > before, "\(attack): no log line with '\(logged)':\n\(collector.log)")
    try expectUnharmed(collector, attack)
  }

  @Test func randomBytesAreRefusedAsABadFrame() throws {
    var bytes = (0..<65536).map { _ in UInt8.random(in: 0...255) }
    bytes[0] = 0  // never the magic by chance
    try Self.expectRefused(bytes, code: 5, logged: "bad frame", attack: "random bytes")
  }

  @Test func aHugeLengthFieldIsRefusedWithoutWaitingForThePayload() throws {
    try Self.expectRefused(Self.header(length: .max), code: 6, logged: "bad frame", attack: "huge length")
  }

  @Test func aValidHeaderWithABadChecksumIsRefused() throws {
    var frame = Self.hello()
    frame[12] ^= 0xFF
    try Self.expectRefused(frame, code: 5, logged: "bad frame", attack: "bad checksum")
  }

  @Test func anotherProtocolVersionIsRefused() throws {
    var frame = Self.hello()
    frame[4] = 2
    try Self.expectRefused(frame, code: 4, logged: "bad frame", attack: "version 2")
  }

  @Test func aPeerClaimingAnotherServersIdIsRefusedAsAWrongSecret() throws {
    let collector = try CollectorUnderTest()
    defer { collector.stop() }
    // Server 1's secret, server 2's id: the proof cannot verify.
    let peer = try RawPeer(port: collector.port)
    let reply = peer.handshake(serverId: 2, secret: CollectorUnderTest.secrets[1]!)
    #expect(RawPeer.errorCode(in: reply) == 1, "\(RawPeer.messages(in: reply))")
    usleep(200_000)
    #expect(collector.logLines(containing: "wrong secret") >= 1, "\(collector.log)")
    #expect(try collector.ledgerCount("SELECT count(*) FROM servers WHERE id = 2") == 0)
    // An id with no secret at all.
    let stranger = try RawPeer(port: collector.port)
    #expect(RawPeer.errorCode(in: stranger.handshake(serverId: 99, secret: "guess")) == 2)
    try Self.expectUnharmed(collector, "impersonation")
  }

  @Test func aPartialFrameThenSilenceIsDroppedAfterThreeHeartbeats() throws {
    let collector = try CollectorUnderTest(heartbeat: "1s")
    defer { collector.stop() }
    let peer = try RawPeer(port: collector.port)
    peer.send(Array(Self.hello().prefix(10)))
    let answer = peer.readUntilClosed(seconds: 10)
    print("[hostile] partial frame then silence: dropped after \(String(format: "%.2f", answer.after)) s (heartbeat 1 s)")
    #expect(answer.closed, "a silent half-frame kept its connection 10 s")
    try Self.expectUnharmed(collector, "partial frame")
  }

  @Test func aHandshakeDrippedByteByByteIsDroppedAfterThreeHeartbeats() throws {
    // Slowloris: one byte every 250 ms keeps the connection from ever being idle.
    let collector = try CollectorUnderTest(heartbeat: "1s")
    defer { collector.stop() }
    let peer = try RawPeer(port: collector.port)
    let hello = Self.hello()
    let start = Date()
    var closedAfter: Double?
    var sent = 0
    for byte in hello {
      peer.send([byte])
      sent += 1
      let answer = peer.readUntilClosed(seconds: 0.25)
      if answer.closed { closedAfter = Date().timeIntervalSince(start); break }
    }
    print("[hostile] dripped handshake: dropped after \(closedAfter.map { String(format: "%.2f s", $0) } ?? "never") (heartbeat 1 s, \(hello.count)-byte hello at 4 bytes/s)")
    #expect(closedAfter != nil && sent < hello.count, "a peer dripping its hello one byte at a time was not dropped before it finished (\(sent) bytes)")
    #expect(collector.logLines(containing: "handshake") >= 1, "\(collector.log)")
    try Self.expectUnharmed(collector, "dripped handshake")
  }
}
