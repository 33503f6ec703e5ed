import TradeTapEvents

/// Why a frame's payload is not a valid message.
public enum MessageDecodingError: Error, Sendable, Hashable {
  /// The frame type is not a ``MessageType``.
  case unknownType(UInt8)
  /// The payload ends inside the message.
  case truncated
  /// Bytes left after a complete message.
  case trailingBytes(Int)
  /// A field holds a value outside its set (named).
  case invalidField(String)
  /// More events than ``WireLimits/maxEventsPerBatch``.
  case tooManyEvents(UInt32)
  /// Event `index` of a batch does not carry `firstSequence + index`.
  case nonConsecutiveSequence(index: Int, expected: UInt64, found: UInt64)
  /// Event `index` of a batch or chunk does not decode.
  case event(index: Int, EventDecodingError)

  /// The error code a peer sends before closing.
  public var errorCode: ErrorCode { .protocolViolation }
}

extension Message {
  /// The payload bytes of this message (without the frame header).
  public func encodePayload() -> [UInt8] {
    var w = BinaryWriter(capacity: 64)
    switch self {
    case .hello(let m):
      w.write(m.serverId); writeFixed(m.clientNonce, WireLimits.nonceLength, &w); w.write(string: m.software)
      if let server = m.server {
        w.write(string: truncatedUTF8(server.name, limit: WireLimits.maxServerNameLength))
        w.write(server.platform); w.write(server.utcOffsetMinutes)
      }
    case .challenge(let m):
      writeFixed(m.serverNonce, WireLimits.nonceLength, &w)
    case .authenticate(let m):
      writeFixed(m.clientProof, WireLimits.proofLength, &w)
    case .welcome(let m):
      writeFixed(m.serverProof, WireLimits.proofLength, &w)
      w.write(m.lastDurableSequence); w.write(m.heartbeatMillis)
    case .eventBatch(let m):
      w.write(m.firstSequence); w.write(UInt32(truncatingIfNeeded: m.events.count))
      for event in m.events { writeEvent(event, &w) }
    case .ack(let m):
      w.write(m.throughSequence)
    case .heartbeat(let m):
      w.write(m.timestampNanos)
    case .gapNotice(let m):
      w.write(m.firstSequence); w.write(m.count); w.write(m.reason.rawValue)
    case .snapshotRequest(let m):
      w.write(m.requestId); w.write(m.scope.rawValue); w.write(m.login)
      w.write(m.fromBrokerMilliseconds); w.write(m.toBrokerMilliseconds); w.write(m.openOnly)
    case .snapshotChunk(let m):
      w.write(m.requestId); w.write(m.chunkIndex); w.write(m.isFinal); w.write(m.status.rawValue)
      w.write(UInt32(truncatingIfNeeded: m.records.count))
      for event in m.records { writeEvent(event, &w) }
      if m.status == .hostError { w.write(m.hostResult) }
    case .error(let m):
      w.write(m.code.rawValue)
      w.write(string: truncatedUTF8(m.message, limit: WireLimits.maxErrorMessageLength))
    case .command(let m):
      w.write(m.commandId)
      switch m.request {
      case .openAccount(let a):
        let sizes = AccountOpening.fieldSizes
        w.write(UInt8(1)); w.write(a.login)
        w.write(string: truncatedUTF8(a.group, limit: sizes.group - 1))
        w.write(string: truncatedUTF8(a.name, limit: sizes.name - 1))
        w.write(string: truncatedUTF8(a.email, limit: sizes.email - 1))
        w.write(string: truncatedUTF8(a.country, limit: sizes.country - 1))
        w.write(string: truncatedUTF8(a.currency, limit: sizes.currency - 1))
        w.write(a.currencyDigits); w.write(a.leverage)
      case .moveMoney(let movement):
        w.write(UInt8(2)); w.write(movement.login); w.write(string: movement.type.rawValue); w.write(movement.amount)
        w.write(string: truncatedUTF8(movement.comment, limit: WireLimits.maxCommandTextLength))
      }
    case .commandResult(let m):
      w.write(m.commandId); w.write(m.status.rawValue); w.write(m.hostResult); w.write(m.deal); w.write(m.login)
      w.write(string: truncatedUTF8(m.reason, limit: WireLimits.maxCommandTextLength))
    }
    return w.bytes
  }

  /// This message as a frame.
  public var frame: Frame { Frame(type: type, payload: encodePayload()) }

  /// Decodes a frame's payload.
  /// - Throws: ``MessageDecodingError``; never traps, whatever the bytes.
  public init(frame: Frame) throws(MessageDecodingError) {
    guard let type = MessageType(rawValue: frame.type) else { throw .unknownType(frame.type) }
    var r = BinaryReader(frame.payload)
    do {
      self = try Self.decode(type, &r)
    } catch let e as MessageDecodingError {
      throw e
    } catch let e as BinaryReadError {
      switch e {
      case .truncated: throw .truncated
      case .invalidUTF8: throw .invalidField("string is not valid UTF-8")
      case .invalidBool(let b): throw .invalidField("boolean byte \(b)")
      case .invalidDecimalScale(let s): throw .invalidField("decimal scale \(s)")
      }
    } catch {
      throw .truncated  // unreachable: only the two error types above are thrown
    }
    guard r.remaining == 0 else { throw .trailingBytes(r.remaining) }
  }

  static func decode(_ type: MessageType, _ r: inout BinaryReader) throws -> Message {
    switch type {
    case .hello:
      let serverId = try r.readUInt32(), nonce = try r.readBytes(count: WireLimits.nonceLength)
      let software = try r.readString()
      // The server identity is optional: a hello that ends after `software` is complete.
      var server: ServerIdentity?
      if r.remaining > 0 {
        let name = try r.readString(), platform = try r.readUInt8(), offset = try r.readInt32()
        guard name.utf8.count <= WireLimits.maxServerNameLength else {
          throw MessageDecodingError.invalidField("server name longer than \(WireLimits.maxServerNameLength) bytes")
        }
        guard platform == 4 || platform == 5 else { throw MessageDecodingError.invalidField("platform \(platform)") }
        server = ServerIdentity(name: name, platform: platform, utcOffsetMinutes: offset)
      }
      return .hello(Hello(serverId: serverId, clientNonce: nonce, software: software, server: server))
    case .challenge:
      return .challenge(Challenge(serverNonce: try r.readBytes(count: WireLimits.nonceLength)))
    case .authenticate:
      return .authenticate(Authenticate(clientProof: try r.readBytes(count: WireLimits.proofLength)))
    case .welcome:
      return .welcome(
        Welcome(
          serverProof: try r.readBytes(count: WireLimits.proofLength),
          lastDurableSequence: try r.readUInt64(), heartbeatMillis: try r.readUInt32()))
    case .eventBatch:
      let first = try r.readUInt64()
      let events = try readEvents(&r)
      for (i, event) in events.enumerated() where event.sequence != first &+ UInt64(i) {
        throw MessageDecodingError.nonConsecutiveSequence(index: i, expected: first &+ UInt64(i), found: event.sequence)
      }
      return .eventBatch(EventBatch(firstSequence: first, events: events))
    case .ack:
      return .ack(Ack(throughSequence: try r.readUInt64()))
    case .heartbeat:
      return .heartbeat(Heartbeat(timestampNanos: try r.readUInt64()))
    case .gapNotice:
      let first = try r.readUInt64(), count = try r.readUInt64(), raw = try r.readUInt8()
      guard let reason = GapReason(rawValue: raw) else { throw MessageDecodingError.invalidField("gap reason \(raw)") }
      return .gapNotice(GapNotice(firstSequence: first, count: count, reason: reason))
    case .snapshotRequest:
      let id = try r.readUInt32(), rawScope = try r.readUInt8()
      guard let scope = SnapshotScope(rawValue: rawScope) else {
        throw MessageDecodingError.invalidField("snapshot scope \(rawScope)")
      }
      return .snapshotRequest(
        SnapshotRequest(
          requestId: id, scope: scope, login: try r.readUInt64(), fromBrokerMilliseconds: try r.readInt64(),
          toBrokerMilliseconds: try r.readInt64(), openOnly: try r.readBool()))
    case .snapshotChunk:
      let id = try r.readUInt32(), index = try r.readUInt32(), isFinal = try r.readBool()
      let rawStatus = try r.readUInt8()
      guard let status = SnapshotStatus(rawValue: rawStatus) else {
        throw MessageDecodingError.invalidField("snapshot status \(rawStatus)")
      }
      let records = try readEvents(&r)
      return .snapshotChunk(
        SnapshotChunk(
          requestId: id, chunkIndex: index, isFinal: isFinal, status: status, records: records,
          hostResult: status == .hostError ? try r.readInt32() : 0))
    case .error:
      let code = ErrorCode(rawValue: try r.readUInt16())
      let message = try r.readString()
      guard message.utf8.count <= WireLimits.maxErrorMessageLength else {
        throw MessageDecodingError.invalidField("error message longer than \(WireLimits.maxErrorMessageLength) bytes")
      }
      return .error(ErrorMessage(code: code, message: message))
    case .command:
      return .command(try decodeCommand(&r))
    case .commandResult:
      let id = try r.readUInt64(), rawStatus = try r.readUInt8()
      guard id > 0 else { throw MessageDecodingError.invalidField("command id 0") }
      guard let status = CommandResultStatus(rawValue: rawStatus) else {
        throw MessageDecodingError.invalidField("command result status \(rawStatus)")
      }
      let hostResult = try r.readInt32(), deal = try r.readUInt64(), login = try r.readUInt64()
      let reason = try r.readString()
      guard reason.utf8.count <= WireLimits.maxCommandTextLength else {
        throw MessageDecodingError.invalidField("command result reason longer than \(WireLimits.maxCommandTextLength) bytes")
      }
      return .commandResult(
        CommandResultMessage(commandId: id, status: status, hostResult: hostResult, deal: deal, login: login, reason: reason))
    }
  }

  /// A command, checked as hostile input: every text within its host field, a
  /// positive amount of a type a command may move, a plausible account.
  static func decodeCommand(_ r: inout BinaryReader) throws -> CommandMessage {
    let id = try r.readUInt64(), kind = try r.readUInt8()
    guard id > 0 else { throw MessageDecodingError.invalidField("command id 0") }
    func text(_ name: String, limit: Int) throws -> String {
      let value = try r.readString()
      guard value.utf8.count <= limit, !value.utf8.contains(0) else {
        throw MessageDecodingError.invalidField("command \(name) longer than \(limit) bytes or holding NUL")
      }
      return value
    }
    switch kind {
    case 1:
      let sizes = AccountOpening.fieldSizes
      let login = try r.readUInt64()
      let group = try text("group", limit: sizes.group - 1), name = try text("name", limit: sizes.name - 1)
      let email = try text("email", limit: sizes.email - 1), country = try text("country", limit: sizes.country - 1)
      let currency = try text("currency", limit: sizes.currency - 1)
      let digits = try r.readUInt8(), leverage = try r.readUInt32()
      guard digits <= 8, leverage > 0, !currency.isEmpty, !group.isEmpty else {
        throw MessageDecodingError.invalidField("account opening: digits \(digits), leverage \(leverage), empty group or currency")
      }
      return CommandMessage(commandId: id, request: .openAccount(AccountOpening(
        login: login, group: group, name: name, email: email, country: country, currency: currency,
        currencyDigits: digits, leverage: leverage)))
    case 2:
      let login = try r.readUInt64(), typeName = try r.readString(), amount = try r.readDecimal()
      let comment = try text("comment", limit: WireLimits.maxCommandTextLength)
      guard let type = BalanceOperationType(rawValue: typeName), MoneyMovement.platformForms[type] != nil else {
        throw MessageDecodingError.invalidField("money movement type \(typeName.prefix(32))")
      }
      guard login > 0, amount.mantissa > 0 else {
        throw MessageDecodingError.invalidField("money movement of login \(login), amount \(amount)")
      }
      return CommandMessage(commandId: id, request: .moveMoney(MoneyMovement(login: login, type: type, amount: amount, comment: comment)))
    default:
      throw MessageDecodingError.invalidField("command kind \(kind)")
    }
  }

  static func readEvents(_ r: inout BinaryReader) throws -> [Event] {
    let count = try r.readUInt32()
    guard count <= UInt32(WireLimits.maxEventsPerBatch) else { throw MessageDecodingError.tooManyEvents(count) }
    var events: [Event] = []
    events.reserveCapacity(Int(count))
    for i in 0..<Int(count) {
      let length = try r.readUInt32()
      guard UInt64(length) <= UInt64(r.remaining) else { throw MessageDecodingError.truncated }
      var eventReader = BinaryReader(r.bytes, range: r.position..<(r.position + Int(length)))
      do {
        events.append(try EventCodec.decode(from: &eventReader))
      } catch {
        throw MessageDecodingError.event(index: i, error)
      }
      guard eventReader.remaining == 0 else {
        throw MessageDecodingError.event(index: i, .trailingBytes(eventReader.remaining))
      }
      try r.skip(Int(length))
    }
    return events
  }
}

/// Writes exactly `count` bytes: `bytes` cut or zero-padded (nonces and proofs are fixed-size).
func writeFixed(_ bytes: [UInt8], _ count: Int, _ w: inout BinaryWriter) {
  w.write(raw: bytes.prefix(count))
  if bytes.count < count { w.write(raw: repeatElement(UInt8(0), count: count - bytes.count)) }
}

/// One event with its `u32` length prefix.
func writeEvent(_ event: Event, _ w: inout BinaryWriter) {
  let lengthAt = w.bytes.count
  w.write(UInt32(0))
  EventCodec.encode(event, into: &w)
  let length = UInt32(truncatingIfNeeded: w.bytes.count - lengthAt - 4)
  for i in 0..<4 { w.bytes[lengthAt + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(i))) }
}

/// `text` cut to at most `limit` UTF-8 bytes on a character boundary.
func truncatedUTF8(_ text: String, limit: Int) -> String {
  if text.utf8.count <= limit { return text }
  var result = ""
  for ch in text {
    if result.utf8.count + String(ch).utf8.count > limit { break }
    result.append(ch)
  }
  return result
}
