/// The compact, versioned, little-endian binary form of an ``Event``, used on the
/// wire (event batches, snapshot chunks). docs/events.md specifies it byte by byte.
///
/// ```
/// u8 format(=1) | u16 kind | u32 server_id | u64 sequence | u64 hook_ns
/// | i32 utc_offset_minutes | u8 body_tag | body...
/// ```
/// Strings are `u16` length + UTF-8, raw bytes `u32` length + bytes, decimals
/// `i64` mantissa + `u8` scale, broker times `i64` milliseconds.
public enum EventCodec {
  /// The format version this build writes and reads.
  public static let formatVersion: UInt8 = 1

  /// Body tags.
  enum Tag: UInt8 {
    case deal = 1, order = 2, position = 3, trade = 4, user = 5, gap = 6, quarantine = 7
    /// A gap that states the journal's refused-event count (appended: a gap without
    /// it keeps tag 6 and its bytes, so older peers still read every other gap).
    case gapWithRefusedCount = 8
    // The gateway model (appended).
    case request = 9, answer = 10, execution = 11, executionAck = 12
  }

  /// Encodes one event into a new byte array.
  public static func encode(_ event: Event) -> [UInt8] {
    var writer = BinaryWriter(capacity: 256)
    encode(event, into: &writer)
    return writer.bytes
  }

  /// Appends one event to `writer`.
  public static func encode(_ event: Event, into w: inout BinaryWriter) {
    w.write(formatVersion)
    w.write(event.kind.rawValue)
    w.write(event.serverId)
    w.write(event.sequence)
    w.write(event.hookTimestampNanos)
    w.write(event.utcOffsetMinutes)
    switch event.body {
    case .deal(let d):
      w.write(Tag.deal.rawValue)
      w.write(d.deal); w.write(string: d.externalId); w.write(d.login); w.write(d.order)
      w.write(d.positionId); w.write(d.action.rawValue); w.write(d.entry.rawValue); w.write(d.reason)
      w.write(string: d.symbol); w.write(d.digits); w.write(d.currencyDigits)
      w.write(d.time.brokerMilliseconds); w.write(d.price); w.write(d.volumeExt); w.write(d.contractSize)
      w.write(d.profit); w.write(d.commission); w.write(d.storage); w.write(d.fee)
      w.write(string: d.comment)
    case .order(let o):
      w.write(Tag.order.rawValue)
      w.write(o.order); w.write(string: o.externalId); w.write(o.login); w.write(string: o.symbol)
      w.write(o.type.rawValue); w.write(o.state.rawValue); w.write(o.reason); w.write(o.digits)
      w.write(o.priceOrder); w.write(o.priceSL); w.write(o.priceTP)
      w.write(o.volumeInitialExt); w.write(o.volumeCurrentExt); w.write(o.positionId)
      w.write(o.timeSetup.brokerMilliseconds); writeOptionalTime(o.timeDone, into: &w)
      w.write(string: o.comment)
    case .position(let p):
      w.write(Tag.position.rawValue)
      w.write(p.position); w.write(p.login); w.write(string: p.symbol); w.write(p.action.rawValue)
      w.write(p.digits); w.write(p.volumeExt); w.write(p.priceOpen); w.write(p.priceCurrent)
      w.write(p.profit); w.write(p.storage)
      w.write(p.timeCreate.brokerMilliseconds); w.write(p.timeUpdate.brokerMilliseconds)
      w.write(string: p.comment)
    case .trade(let t):
      w.write(Tag.trade.rawValue)
      w.write(t.ticket); w.write(t.login); w.write(string: t.symbol); w.write(t.digits)
      w.write(t.command.rawValue); w.write(t.volume); w.write(t.openTime.brokerMilliseconds)
      w.write(t.state); w.write(t.openPrice); w.write(t.sl); w.write(t.tp)
      writeOptionalTime(t.closeTime, into: &w)
      w.write(t.closePrice); w.write(t.commission); w.write(t.storage); w.write(t.profit)
      w.write(t.taxes); w.write(t.magic); w.write(string: t.comment)
      w.write(t.timestamp.brokerMilliseconds)
      if let u = t.user {
        w.write(UInt8(1))
        w.write(u.login); w.write(string: u.group); w.write(string: u.name); w.write(u.leverage)
        w.write(u.balance); w.write(u.credit)
      } else {
        w.write(UInt8(0))
      }
      switch t.mode {
      case nil: w.write(UInt8(0)); w.write(Int32(0))
      case .add(let m)?: w.write(UInt8(1)); w.write(m.rawValue)
      case .update(let m)?: w.write(UInt8(2)); w.write(m.rawValue)
      }
    case .user(let u):
      w.write(Tag.user.rawValue)
      w.write(u.login); w.write(string: u.group); w.write(string: u.name); w.write(string: u.email)
      w.write(string: u.country); w.write(string: u.currency); w.write(u.currencyDigits)
      w.write(u.leverage); w.write(u.marginMode.rawValue); w.write(u.balance); w.write(u.credit)
      w.write(u.registration.brokerMilliseconds); w.write(u.lastUpdate.brokerMilliseconds)
      w.write(string: u.comment)
    case .gap(let g):
      w.write(g.refusedEvents == nil ? Tag.gap.rawValue : Tag.gapWithRefusedCount.rawValue)
      w.write(g.firstSequence); w.write(g.count); w.write(g.reason.rawValue)
      if let refused = g.refusedEvents { w.write(refused) }
    case .quarantine(let q):
      w.write(Tag.quarantine.rawValue)
      w.write(q.kind.rawValue); w.write(string: q.reason); w.write(q.declaredSize); w.write(q.mode)
      w.write(lengthPrefixed: q.rawBytes); w.write(lengthPrefixed: q.secondaryBytes)
    case .gateway(.request(let q)):
      w.write(Tag.request.rawValue)
      w.write(q.requestId); w.write(q.serverId); w.write(q.login); w.write(string: q.group)
      w.write(string: q.symbol); w.write(q.digits); w.write(q.action.rawValue); w.write(q.type); w.write(q.flags)
      w.write(q.volumeExt); w.write(q.order); w.write(q.positionId); w.write(q.priceOrder); w.write(q.priceSL)
      w.write(q.priceTP); w.write(q.priceBid); w.write(q.priceAsk); w.write(q.time.brokerMilliseconds)
      w.write(string: q.comment)
    case .gateway(.answer(let a)):
      w.write(Tag.answer.rawValue)
      w.write(a.requestId); w.write(a.serverId); w.write(a.retcode); w.write(a.order); w.write(a.deal)
      w.write(a.volumeExt); w.write(a.price); w.write(a.priceBid); w.write(a.priceAsk)
      w.write(a.time.brokerMilliseconds); w.write(string: a.comment)
    case .gateway(.execution(let x)):
      w.write(Tag.execution.rawValue)
      w.write(x.executionId); w.write(x.serverId); w.write(x.action.rawValue); w.write(x.flags)
      w.write(x.requestId); w.write(x.login); w.write(string: x.group); w.write(string: x.symbol)
      w.write(x.digits); w.write(x.order); w.write(string: x.orderExternalId); w.write(x.orderType.rawValue)
      w.write(x.orderVolumeExt); w.write(x.orderPrice); w.write(string: x.dealExternalId)
      w.write(x.dealAction.rawValue); w.write(x.dealVolumeExt); w.write(x.dealVolumeRemainingExt)
      w.write(x.dealPrice); w.write(x.priceGateway); w.write(x.dealCommission); w.write(x.positionId)
      w.write(x.externalRetcode); w.write(x.time.brokerMilliseconds); w.write(string: x.comment)
    case .gateway(.executionAck(let k)):
      w.write(Tag.executionAck.rawValue)
      w.write(k.serverId); w.write(k.executionId)
    }
  }

  static func writeOptionalTime(_ time: BrokerTime?, into w: inout BinaryWriter) {
    if let time {
      w.write(UInt8(1)); w.write(time.brokerMilliseconds)
    } else {
      w.write(UInt8(0)); w.write(Int64(0))
    }
  }

  /// Decodes exactly one event that fills `bytes`.
  /// - Throws: ``EventDecodingError``; never traps, whatever the input.
  public static func decode(_ bytes: [UInt8]) throws(EventDecodingError) -> Event {
    var reader = BinaryReader(bytes)
    let event = try decode(from: &reader)
    guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
    return event
  }

  /// Decodes one event from `reader`, leaving it after the event.
  public static func decode(from r: inout BinaryReader) throws(EventDecodingError) -> Event {
    do {
      return try decodeUnchecked(from: &r)
    } catch let e as EventDecodingError {
      throw e
    } catch let e as BinaryReadError {
      throw EventDecodingError(e)
    } catch {
      throw .truncated  // unreachable: only the two error types above are thrown
    }
  }

  static func decodeUnchecked(from r: inout BinaryReader) throws -> Event {
    let version = try r.readUInt8()
    guard version == formatVersion else { throw EventDecodingError.unsupportedVersion(version) }
    let kind = try recordKind(try r.readUInt16())
    let serverId = try r.readUInt32()
    let sequence = try r.readUInt64()
    let hookNanos = try r.readUInt64()
    let offset = try r.readInt32()
    func time(_ ms: Int64) -> BrokerTime { BrokerTime(brokerMilliseconds: ms, utcOffsetMinutes: offset) }
    func optionalTime() throws -> BrokerTime? {
      let present = try r.readBool()
      let ms = try r.readInt64()
      return present ? time(ms) : nil
    }
    let tagByte = try r.readUInt8()
    guard let tag = Tag(rawValue: tagByte) else { throw EventDecodingError.unknownBodyTag(tagByte) }
    let body: EventBody
    switch tag {
    case .deal:
      body = .deal(
        Deal(
          deal: try r.readUInt64(), externalId: try r.readString(), login: try r.readUInt64(),
          order: try r.readUInt64(), positionId: try r.readUInt64(),
          action: try enumValue(DealAction.self, try r.readUInt32(), "deal.action"),
          entry: try enumValue(DealEntry.self, try r.readUInt32(), "deal.entry"),
          reason: try r.readUInt32(), symbol: try r.readString(), digits: try r.readUInt32(),
          currencyDigits: try r.readUInt32(), time: time(try r.readInt64()), price: try r.readDecimal(),
          volumeExt: try r.readUInt64(), contractSize: try r.readDecimal(), profit: try r.readDecimal(),
          commission: try r.readDecimal(), storage: try r.readDecimal(), fee: try r.readDecimal(),
          comment: try r.readString()))
    case .order:
      body = .order(
        Order(
          order: try r.readUInt64(), externalId: try r.readString(), login: try r.readUInt64(),
          symbol: try r.readString(), type: try enumValue(OrderType.self, try r.readUInt32(), "order.type"),
          state: try enumValue(OrderState.self, try r.readUInt32(), "order.state"),
          reason: try r.readUInt32(), digits: try r.readUInt32(), priceOrder: try r.readDecimal(),
          priceSL: try r.readDecimal(), priceTP: try r.readDecimal(), volumeInitialExt: try r.readUInt64(),
          volumeCurrentExt: try r.readUInt64(), positionId: try r.readUInt64(),
          timeSetup: time(try r.readInt64()), timeDone: try optionalTime(), comment: try r.readString()))
    case .position:
      body = .position(
        Position(
          position: try r.readUInt64(), login: try r.readUInt64(), symbol: try r.readString(),
          action: try enumValue(PositionAction.self, try r.readUInt32(), "position.action"),
          digits: try r.readUInt32(), volumeExt: try r.readUInt64(), priceOpen: try r.readDecimal(),
          priceCurrent: try r.readDecimal(), profit: try r.readDecimal(), storage: try r.readDecimal(),
          timeCreate: time(try r.readInt64()), timeUpdate: time(try r.readInt64()),
          comment: try r.readString()))
    case .trade:
      let ticket = try r.readInt32(), login = try r.readInt32(), symbol = try r.readString()
      let digits = try r.readInt32()
      let command = try enumValue(TradeCommand.self, try r.readInt32(), "trade.cmd")
      let volume = try r.readInt32(), openTime = time(try r.readInt64()), state = try r.readInt32()
      let openPrice = try r.readDecimal(), sl = try r.readDecimal(), tp = try r.readDecimal()
      let closeTime = try optionalTime()
      let closePrice = try r.readDecimal(), commission = try r.readDecimal()
      let storage = try r.readDecimal(), profit = try r.readDecimal(), taxes = try r.readDecimal()
      let magic = try r.readInt32(), comment = try r.readString(), timestamp = time(try r.readInt64())
      var user: TradeUserInfo?
      if try r.readBool() {
        user = TradeUserInfo(
          login: try r.readInt32(), group: try r.readString(), name: try r.readString(),
          leverage: try r.readInt32(), balance: try r.readDecimal(), credit: try r.readDecimal())
      }
      let modeTag = try r.readUInt8()
      let modeValue = try r.readInt32()
      let mode: TradeMode?
      switch modeTag {
      case 0: mode = nil
      case 1: mode = .add(try enumValue(TradeAddMode.self, modeValue, "trade.mode"))
      case 2: mode = .update(try enumValue(TradeUpdateMode.self, modeValue, "trade.mode"))
      default: throw EventDecodingError.invalidEnumValue(field: "trade.mode_tag", value: Int64(modeTag))
      }
      body = .trade(
        Trade(
          ticket: ticket, login: login, symbol: symbol, digits: digits, command: command, volume: volume,
          openTime: openTime, state: state, openPrice: openPrice, sl: sl, tp: tp, closeTime: closeTime,
          closePrice: closePrice, commission: commission, storage: storage, profit: profit,
          taxes: taxes, magic: magic, comment: comment, timestamp: timestamp, user: user, mode: mode))
    case .user:
      body = .user(
        User(
          login: try r.readUInt64(), group: try r.readString(), name: try r.readString(),
          email: try r.readString(), country: try r.readString(), currency: try r.readString(),
          currencyDigits: try r.readUInt32(), leverage: try r.readUInt32(),
          marginMode: try enumValue(MarginMode.self, try r.readUInt32(), "user.margin_mode"),
          balance: try r.readDecimal(), credit: try r.readDecimal(),
          registration: time(try r.readInt64()), lastUpdate: time(try r.readInt64()),
          comment: try r.readString()))
    case .gap, .gapWithRefusedCount:
      let first = try r.readUInt64(), count = try r.readUInt64()
      let reason = try enumValue(GapReason.self, try r.readUInt8(), "gap.reason")
      let refused = tag == .gapWithRefusedCount ? try r.readUInt64() : nil
      body = .gap(Gap(firstSequence: first, count: count, reason: reason, refusedEvents: refused))
    case .quarantine:
      body = .quarantine(
        Quarantine(
          kind: try recordKind(try r.readUInt16()), reason: try r.readString(),
          declaredSize: try r.readUInt32(), mode: try r.readInt32(),
          rawBytes: try r.readLengthPrefixed(), secondaryBytes: try r.readLengthPrefixed()))
    case .request:
      body = .gateway(.request(
        TradeRequest(
          requestId: try r.readUInt64(), serverId: try r.readUInt32(), login: try r.readUInt64(),
          group: try r.readString(), symbol: try r.readString(), digits: try r.readUInt32(),
          action: try enumValue(RequestAction.self, try r.readUInt32(), "request.action"),
          type: try r.readUInt32(), flags: try r.readUInt64(), volumeExt: try r.readUInt64(),
          order: try r.readUInt64(), positionId: try r.readUInt64(), priceOrder: try r.readDecimal(),
          priceSL: try r.readDecimal(), priceTP: try r.readDecimal(), priceBid: try r.readDecimal(),
          priceAsk: try r.readDecimal(), time: time(try r.readInt64()), comment: try r.readString())))
    case .answer:
      body = .gateway(.answer(
        DealerAnswer(
          requestId: try r.readUInt64(), serverId: try r.readUInt32(), retcode: try r.readInt32(),
          order: try r.readUInt64(), deal: try r.readUInt64(), volumeExt: try r.readUInt64(),
          price: try r.readDecimal(), priceBid: try r.readDecimal(), priceAsk: try r.readDecimal(),
          time: time(try r.readInt64()), comment: try r.readString())))
    case .execution:
      body = .gateway(.execution(
        Execution(
          executionId: try r.readUInt64(), serverId: try r.readUInt32(),
          action: try enumValue(ExecutionAction.self, try r.readUInt32(), "execution.action"),
          flags: try r.readUInt64(), requestId: try r.readUInt64(), login: try r.readUInt64(),
          group: try r.readString(), symbol: try r.readString(), digits: try r.readUInt32(),
          order: try r.readUInt64(), orderExternalId: try r.readString(),
          orderType: try enumValue(OrderType.self, try r.readUInt32(), "execution.order_type"),
          orderVolumeExt: try r.readUInt64(), orderPrice: try r.readDecimal(), dealExternalId: try r.readString(),
          dealAction: try enumValue(DealAction.self, try r.readUInt32(), "execution.deal_action"),
          dealVolumeExt: try r.readUInt64(), dealVolumeRemainingExt: try r.readUInt64(),
          dealPrice: try r.readDecimal(), priceGateway: try r.readDecimal(), dealCommission: try r.readDecimal(),
          positionId: try r.readUInt64(), externalRetcode: try r.readInt32(), time: time(try r.readInt64()),
          comment: try r.readString())))
    case .executionAck:
      body = .gateway(.executionAck(ExecutionAck(serverId: try r.readUInt32(), executionId: try r.readUInt64())))
    }
    return Event(
      serverId: serverId, sequence: sequence, kind: kind, hookTimestampNanos: hookNanos,
      utcOffsetMinutes: offset, body: body)
  }

  static func recordKind(_ raw: UInt16) throws -> RecordKind {
    guard let kind = RecordKind(rawValue: raw) else { throw EventDecodingError.unknownRecordKind(raw) }
    return kind
  }

  static func enumValue<E: RawRepresentable>(_ type: E.Type, _ raw: E.RawValue, _ field: String) throws -> E
  where E.RawValue: BinaryInteger {
    guard let value = E(rawValue: raw) else {
      throw EventDecodingError.invalidEnumValue(field: field, value: Int64(truncatingIfNeeded: raw))
    }
    return value
  }
}

/// Why bytes are not an encoded event.
public enum EventDecodingError: Error, Sendable, Hashable {
  /// The bytes end inside the event.
  case truncated
  /// A format version this build does not read.
  case unsupportedVersion(UInt8)
  /// A `RecordKind` raw value this build does not know.
  case unknownRecordKind(UInt16)
  /// A body tag this build does not know.
  case unknownBodyTag(UInt8)
  /// An enumeration field holds a value outside its set.
  case invalidEnumValue(field: String, value: Int64)
  /// A string is not valid UTF-8.
  case invalidUTF8
  /// A decimal's scale exceeds 18.
  case invalidDecimalScale(UInt8)
  /// Bytes left after a complete event.
  case trailingBytes(Int)

  init(_ error: BinaryReadError) {
    switch error {
    case .truncated: self = .truncated
    case .invalidUTF8: self = .invalidUTF8
    case .invalidDecimalScale(let s): self = .invalidDecimalScale(s)
    case .invalidBool(let b): self = .invalidEnumValue(field: "bool", value: Int64(b))
    }
  }
}
