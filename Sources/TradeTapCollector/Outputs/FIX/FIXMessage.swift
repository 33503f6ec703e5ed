import NIOCore

/// One FIX 4.4 message: its fields in wire order, BeginString (8), BodyLength (9) and
/// CheckSum (10) excluded (the codec writes and checks them).
///
/// ```
///  8=FIX.4.4 SOH 9=<body bytes> SOH 35=<type> SOH 34=<seq> SOH ... SOH 10=<sum mod 256, 3 digits> SOH
///                               └──────────── body ─────────────────┘
/// ```
public struct FIXMessage: Sendable, Equatable {
  public var fields: [(tag: Int, value: String)]

  public init(_ fields: [(tag: Int, value: String)] = []) { self.fields = fields }

  public static func == (a: FIXMessage, b: FIXMessage) -> Bool {
    a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.tag == $1.tag && $0.value == $1.value }
  }

  /// The first value of `tag`, or nil.
  public subscript(tag: Int) -> String? { fields.first { $0.tag == tag }?.value }

  var msgType: String? { self[FIXTag.msgType] }
  var seqNum: Int64? { self[FIXTag.msgSeqNum].flatMap { Int64($0) } }
  var possDup: Bool { self[FIXTag.possDupFlag] == "Y" }

  mutating func append(_ tag: Int, _ value: String) { fields.append((tag, value)) }

  static let beginString = "FIX.4.4"
  static let soh: UInt8 = 0x01

  /// The whole message on the wire: BeginString, BodyLength, the fields, CheckSum.
  public func encoded() -> [UInt8] {
    var body: [UInt8] = []
    body.reserveCapacity(256)
    for field in fields {
      body.append(contentsOf: String(field.tag).utf8)
      body.append(UInt8(ascii: "="))
      body.append(contentsOf: field.value.utf8)
      body.append(Self.soh)
    }
    var bytes = Array("8=\(Self.beginString)\u{1}9=\(body.count)\u{1}".utf8)
    bytes.append(contentsOf: body)
    let sum = bytes.reduce(0) { ($0 + Int($1)) & 0xFF }
    let digits = String(sum)
    bytes.append(contentsOf: Array("10=\(String(repeating: "0", count: 3 - digits.count))\(digits)\u{1}".utf8))
    return bytes
  }
}

/// The tags the drop copy reads or writes (FIX 4.4 data dictionary names).
enum FIXTag {
  static let account = 1
  static let avgPx = 6
  static let beginSeqNo = 7
  static let checkSum = 10
  static let cumQty = 14
  static let endSeqNo = 16
  static let execID = 17
  static let execRefID = 19
  static let lastPx = 31
  static let lastQty = 32
  static let msgSeqNum = 34
  static let msgType = 35
  static let newSeqNo = 36
  static let orderID = 37
  static let ordStatus = 39
  static let possDupFlag = 43
  static let refSeqNum = 45
  static let senderCompID = 49
  static let sendingTime = 52
  static let side = 54
  static let symbol = 55
  static let targetCompID = 56
  static let text = 58
  static let transactTime = 60
  static let encryptMethod = 98
  static let heartBtInt = 108
  static let testReqID = 112
  static let origSendingTime = 122
  static let gapFillFlag = 123
  static let resetSeqNumFlag = 141
  static let execType = 150
  static let leavesQty = 151
  static let refTagID = 371
  static let refMsgType = 372
  static let sessionRejectReason = 373
  static let password = 554
  /// TradeTap's own tag: the trade server id the deal comes from (docs/fix.md).
  static let tradeTapServerID = 20001
}

/// Why bytes are not a FIX message. The connection gets a Logout with this reason and is closed.
public enum FIXDecodingError: Error, Equatable, CustomStringConvertible {
  case badBeginString
  case badBodyLength
  case bodyTooLong(Int)
  case badCheckSum(expected: Int, found: String)
  case badField(String)
  case leftoverBytesAtEOF

  public var description: String {
    switch self {
    case .badBeginString: "garbled message: expected 8=FIX.4.4 first"
    case .badBodyLength: "garbled message: bad BodyLength (9)"
    case .bodyTooLong(let length): "BodyLength \(length) is above the limit of \(FIXFrameDecoder.maxBodyLength)"
    case .badCheckSum(let expected, let found): "bad CheckSum (10): \(found), expected \(expected)"
    case .badField(let why): "garbled field: \(why)"
    case .leftoverBytesAtEOF: "connection closed inside a message"
    }
  }
}

/// Splits the byte stream into ``FIXMessage``s, checking BeginString, BodyLength (at
/// most ``maxBodyLength``) and CheckSum. Memory per peer stays below one message's
/// limit: a longer one is refused as soon as its BodyLength is read.
public struct FIXFrameDecoder: ByteToMessageDecoder {
  public typealias InboundOut = FIXMessage
  public static let maxBodyLength = 8_192
  private static let prefix = Array("8=FIX.4.4\u{1}9=".utf8)

  private enum ReadState {
    case waitingForHeader
    case waitingForMessage(headerLength: Int, bodyLength: Int)
  }
  private var state = ReadState.waitingForHeader

  public init() {}

  public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    switch state {
    case .waitingForHeader:
      let available = buffer.readableBytes
      let bytes = buffer.getBytes(at: buffer.readerIndex, length: min(available, Self.prefix.count + 8)) ?? []
      let compared = min(bytes.count, Self.prefix.count)
      guard Array(bytes[0..<compared]) == Array(Self.prefix[0..<compared]) else { throw FIXDecodingError.badBeginString }
      guard bytes.count > Self.prefix.count else { return .needMoreData }
      var length = 0
      var index = Self.prefix.count
      while index < bytes.count, bytes[index] != FIXMessage.soh {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { throw FIXDecodingError.badBodyLength }
        length = length * 10 + Int(bytes[index] - UInt8(ascii: "0"))
        index += 1
      }
      guard index < bytes.count else {
        // Up to 7 digits fit; more is not a length we accept.
        if bytes.count >= Self.prefix.count + 8 { throw FIXDecodingError.bodyTooLong(length) }
        return .needMoreData
      }
      guard index > Self.prefix.count else { throw FIXDecodingError.badBodyLength }
      guard length <= Self.maxBodyLength else { throw FIXDecodingError.bodyTooLong(length) }
      state = .waitingForMessage(headerLength: index + 1, bodyLength: length)
      return .continue
    case .waitingForMessage(let headerLength, let bodyLength):
      let total = headerLength + bodyLength + 7
      guard buffer.readableBytes >= total, let bytes = buffer.readBytes(length: total) else { return .needMoreData }
      state = .waitingForHeader
      let summed = headerLength + bodyLength
      let trailer = bytes[summed...]
      guard trailer.starts(with: Array("10=".utf8)), bytes[total - 1] == FIXMessage.soh else {
        throw FIXDecodingError.badBodyLength
      }
      let expected = bytes[0..<summed].reduce(0) { ($0 + Int($1)) & 0xFF }
      let found = String(decoding: bytes[(summed + 3)..<(total - 1)], as: UTF8.self)
      guard Int(found) == expected else { throw FIXDecodingError.badCheckSum(expected: expected, found: found) }
      context.fireChannelRead(wrapInboundOut(try Self.fields(bytes[headerLength..<summed])))
      return .continue
    }
  }

  public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
    while try decode(context: context, buffer: &buffer) == .continue {}
    if buffer.readableBytes > 0 { throw FIXDecodingError.leftoverBytesAtEOF }
    return .needMoreData
  }

  /// The body's `tag=value` fields.
  static func fields(_ body: ArraySlice<UInt8>) throws -> FIXMessage {
    var message = FIXMessage()
    for part in body.split(separator: FIXMessage.soh, omittingEmptySubsequences: false).dropLast() {
      guard let equals = part.firstIndex(of: UInt8(ascii: "=")),
        let tag = Int(String(decoding: part[part.startIndex..<equals], as: UTF8.self)), tag > 0
      else { throw FIXDecodingError.badField("expected tag=value") }
      let value = String(decoding: part[(equals + 1)...], as: UTF8.self)
      guard !value.isEmpty else { throw FIXDecodingError.badField("tag \(tag) has no value") }
      message.append(tag, value)
    }
    guard body.last == FIXMessage.soh || body.isEmpty else { throw FIXDecodingError.badField("body must end with SOH") }
    return message
  }
}

/// FIX time texts.
enum FIXTime {
  /// UTCTimestamp with milliseconds (`20261125-20:15:00.000`) from the ledger's UTC text
  /// (`2026-11-25T20:15:00.000Z`).
  static func timestamp(utc: String) -> String {
    let c = Array(utc.utf8)
    guard c.count >= 23 else { return utc }
    let date = c[0..<4] + c[5..<7] + c[8..<10]
    return String(decoding: date, as: UTF8.self) + "-" + String(decoding: c[11..<23], as: UTF8.self)
  }
}
