import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
import TradeTapCollector

/// The FIX drop copy's framing (docs/fix.md): BeginString, BodyLength, CheckSum,
/// the body's cap, and the sessions file.
@Suite("FIX frame decoder")
struct FIXFrameDecoderTests {
  static let heartbeat = FIXMessage([(35, "0"), (49, "BACKOFFICE"), (56, "TRADETAP"), (34, "7"), (52, "20261203-19:36:09.796")])
  static let logon = FIXMessage([
    (35, "A"), (49, "BACKOFFICE"), (56, "TRADETAP"), (34, "1"), (52, "20261203-19:36:09.000"), (98, "0"), (108, "30"),
    (554, "pass=word"),
  ])

  @Test func encodingWritesBodyLengthAndCheckSumAsFIXDefinesThem() {
    let bytes = FIXMessage([(35, "0"), (34, "1")]).encoded()
    let text = String(decoding: bytes, as: UTF8.self)
    // body "35=0|34=1|" is 10 bytes; the checksum is the byte sum mod 256 of everything before "10=".
    #expect(text.hasPrefix("8=FIX.4.4\u{1}9=10\u{1}35=0\u{1}34=1\u{1}10="))
    let sum = bytes.prefix(bytes.count - 7).reduce(0) { ($0 + Int($1)) % 256 }
    #expect(text.hasSuffix("10=\(String(format: "%03d", sum))\u{1}"))
  }

  @Test func messagesDecodeByteByByteFrameByFrameAndAllAtOnce() throws {
    let inputs = [Self.heartbeat, Self.logon].map { message -> (ByteBuffer, [FIXMessage]) in
      (ByteBuffer(bytes: message.encoded()), [message])
    }
    try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: inputs) { FIXFrameDecoder() }
  }

  static func decodeError(_ bytes: [UInt8]) -> FIXDecodingError? {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(FIXFrameDecoder()))
    defer { _ = try? channel.finish() }
    do {
      try channel.writeInbound(ByteBuffer(bytes: bytes))
      return nil
    } catch let error as FIXDecodingError {
      return error
    } catch {
      return nil
    }
  }

  @Test func garbageBeforeTheBeginStringIsRefused() {
    #expect(Self.decodeError(Array("GET / HTTP/1.1\r\n".utf8)) == .badBeginString)
    #expect(Self.decodeError(Array("8=FIX.4.2\u{1}9=5\u{1}".utf8)) == .badBeginString)
  }

  @Test func aBodyLengthAboveTheCapIsRefusedBeforeTheBodyIsRead() {
    #expect(Self.decodeError(Array("8=FIX.4.4\u{1}9=99999999\u{1}".utf8)) == .bodyTooLong(99_999_999))
    // More digits than any accepted length: refused after 8, never an overflow.
    #expect(Self.decodeError(Array("8=FIX.4.4\u{1}9=123456789012345678901234\u{1}".utf8)) == .bodyTooLong(12_345_678))
    #expect(Self.decodeError(Array("8=FIX.4.4\u{1}9=8193\u{1}".utf8)) == .bodyTooLong(8_193))
    #expect(Self.decodeError(Array("8=FIX.4.4\u{1}9=12a\u{1}".utf8)) == .badBodyLength)
  }

  @Test func aWrongCheckSumOrAWrongBodyLengthIsRefused() {
    var bytes = Self.heartbeat.encoded()
    bytes[bytes.count - 2] = bytes[bytes.count - 2] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
    guard case .badCheckSum? = Self.decodeError(bytes) else {
      Issue.record("expected badCheckSum")
      return
    }
    // A BodyLength one byte short puts "10=" where the body goes on.
    let text = String(decoding: Self.heartbeat.encoded(), as: UTF8.self)
    let shorter = text.replacingOccurrences(of: "\u{1}9=", with: "\u{1}9=").replacing(/9=(\d+)/) { "9=\(Int($0.1)! - 1)" }
    #expect(Self.decodeError(Array(shorter.utf8)) == .badBodyLength)
  }

  @Test func aCutMessageAtEOFIsAnError() throws {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(FIXFrameDecoder()))
    try channel.writeInbound(ByteBuffer(bytes: Self.heartbeat.encoded().dropLast(3)))
    #expect(throws: FIXDecodingError.leftoverBytesAtEOF) { _ = try channel.finish() }
  }

  @Test func theSessionsFileTakesCompIDsAReportAndAPasswordFile() throws {
    let sessions = try FIXSessionsFile.parse(
      "# drop copies\nTRADETAP BACKOFFICE report=8 password-file=/p\n\nTRADETAP RISK\n", password: { Array("pw:\($0)".utf8) })
    #expect(sessions.map(\.name) == ["fix-TRADETAP-BACKOFFICE", "fix-TRADETAP-RISK"])
    #expect(sessions[0].password == Array("pw:/p".utf8) && sessions[1].password == nil)
    for bad in ["TRADETAP", "TRADETAP X report=AE", "TRADETAP X colour=red", "TRADETAP X\nTRADETAP X", "", "A=B X"] {
      #expect(throws: FIXSessionsFile.Problem.self, "\(bad)") { try FIXSessionsFile.parse(bad, password: { _ in [] }) }
    }
  }
}
