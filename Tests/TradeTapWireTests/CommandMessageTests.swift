import Testing
import TradeTapEvents
import TradeTapWire

/// Commands come from the collector and results from a plugin: both are hostile
/// input to the other side. Every malformed one is a decoding error, never a trap
/// and never a command the host would run.
@Suite struct CommandMessageSpecification {
  static func payload(_ build: (inout BinaryWriter) -> Void) -> Frame {
    var w = BinaryWriter(capacity: 64)
    build(&w)
    return Frame(type: MessageType.command.rawValue, payload: w.bytes)
  }

  static func movement(id: UInt64 = 5, login: UInt64 = 5001, type: String = "deposit", mantissa: Int64 = 100,
                       scale: UInt8 = 2, comment: String = "x") -> Frame {
    payload { w in
      w.write(id); w.write(UInt8(2)); w.write(login); w.write(string: type)
      w.write(mantissa); w.write(scale); w.write(string: comment)
    }
  }

  @Test func aWellFormedMoneyMovementDecodes() throws {
    let message = try Message(frame: Self.movement())
    #expect(message == .command(CommandMessage(commandId: 5, request: .moveMoney(MoneyMovement(
      login: 5001, type: .deposit, amount: ExactDecimal(mantissa: 100, scale: 2)!, comment: "x")))))
  }

  @Test(arguments: [
    ("command id 0", movement(id: 0)),
    ("login 0", movement(login: 0)),
    ("zero amount", movement(mantissa: 0)),
    ("negative amount", movement(mantissa: -100)),
    ("a type a command may not move", movement(type: "commission")),
    ("an unknown type", movement(type: "gift")),
    ("a comment over 255 bytes", movement(comment: String(repeating: "c", count: 256))),
    ("a comment holding NUL", movement(comment: "a\u{0}b")),
    ("a scale above 18", movement(scale: 19)),
  ])
  func aMalformedMoneyMovementIsRefused(_ what: String, _ frame: Frame) {
    #expect(throws: MessageDecodingError.self, "\(what)") { try Message(frame: frame) }
  }

  static func opening(group: String = "real", currency: String = "USD", digits: UInt8 = 2, leverage: UInt32 = 100,
                      kind: UInt8 = 1) -> Frame {
    payload { w in
      w.write(UInt64(8)); w.write(kind); w.write(UInt64(0)); w.write(string: group); w.write(string: "Ann")
      w.write(string: ""); w.write(string: ""); w.write(string: currency); w.write(digits); w.write(leverage)
    }
  }

  @Test(arguments: [
    ("a group longer than the host's field", opening(group: String(repeating: "g", count: 64))),
    ("an empty currency", opening(currency: "")),
    ("9 currency digits", opening(digits: 9)),
    ("leverage 0", opening(leverage: 0)),
    ("kind 3", opening(kind: 3)),
  ])
  func aMalformedAccountOpeningIsRefused(_ what: String, _ frame: Frame) {
    #expect(throws: MessageDecodingError.self, "\(what)") { try Message(frame: frame) }
  }

  @Test func everyTruncationOfACommandOrResultIsAnErrorNeverATrap() throws {
    let frames = [
      Self.movement(), Self.opening(),
      Message.commandResult(CommandResultMessage(commandId: 3, status: .rejected, hostResult: 9, reason: "no_money")).frame,
    ]
    for frame in frames {
      for cut in 0..<frame.payload.count {
        let short = Frame(type: frame.type, payload: Array(frame.payload[..<cut]))
        #expect(throws: MessageDecodingError.self) { try Message(frame: short) }
      }
      #expect(throws: MessageDecodingError.trailingBytes(1)) { try Message(frame: Frame(type: frame.type, payload: frame.payload + [0])) }
    }
  }

  @Test func aResultOfAnUnknownStatusOrCommandZeroIsRefused() {
    var w = BinaryWriter(capacity: 32)
    w.write(UInt64(3)); w.write(UInt8(4)); w.write(Int32(0)); w.write(UInt64(0)); w.write(UInt64(0)); w.write(string: "")
    #expect(throws: MessageDecodingError.self) { try Message(frame: Frame(type: MessageType.commandResult.rawValue, payload: w.bytes)) }
    var zero = BinaryWriter(capacity: 32)
    zero.write(UInt64(0)); zero.write(UInt8(1)); zero.write(Int32(0)); zero.write(UInt64(1)); zero.write(UInt64(0)); zero.write(string: "")
    #expect(throws: MessageDecodingError.self) { try Message(frame: Frame(type: MessageType.commandResult.rawValue, payload: zero.bytes)) }
  }
}

/// The `TT#<id>` mark: how an unknown outcome is found on the platform.
@Suite struct CommandMarkerSpecification {
  @Test func theMarkerLeadsTheCommentAndTheCRMCommentIsCutToTheField() {
    #expect(CommandMarker.comment(commandId: 42, crmComment: "", fieldSize: 32) == "TT#42")
    #expect(CommandMarker.comment(commandId: 42, crmComment: "wire in", fieldSize: 32) == "TT#42 wire in")
    let cut = CommandMarker.comment(commandId: 123_456, crmComment: String(repeating: "é", count: 40), fieldSize: 32)
    #expect(cut.utf8.count <= 31)
    #expect(cut.hasPrefix("TT#123456 é"))
    #expect(CommandMarker.commandId(in: cut) == 123_456)
  }

  @Test(arguments: [
    ("TT#42", UInt64?(42)), ("TT#42 deposit", 42), ("TT#", nil), ("TT#0", nil), ("TT#4x2", nil), ("tt#42", nil),
    (" TT#42", nil), ("TT#99999999999999999999", nil), ("deposit TT#42", nil),
  ])
  func theMarkerIsReadExactly(_ comment: String, _ id: UInt64?) {
    #expect(CommandMarker.commandId(in: comment) == id, "\(comment)")
  }
}
