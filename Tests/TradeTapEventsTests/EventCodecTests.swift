import Testing
import TradeServerAPI
import TradeTapEvents

/// One event of every body type, used by the round-trip tests here and the wire vectors.
func everyBodyEvents() -> [Event] {
  let t = BrokerTime(brokerMilliseconds: 1_700_000_000_123, utcOffsetMinutes: 120)
  let d = ExactDecimal("-12.30")!
  return [
    Event(serverId: 7, sequence: 1, kind: .dealAdd, hookTimestampNanos: 11, utcOffsetMinutes: 120, body: .deal(
      Deal(deal: 1001, externalId: "ext", login: 5001, order: 2001, positionId: 2001, action: .balance, entry: .in,
           reason: 99, symbol: "", digits: 5, currencyDigits: 2, time: t, price: ExactDecimal("1.08345")!,
           volumeExt: 100_000_000, contractSize: ExactDecimal("100000")!, profit: d, commission: .zero,
           storage: ExactDecimal("0.30")!, fee: ExactDecimal("-0.01")!, comment: "déposit"))),
    Event(serverId: 7, sequence: 2, kind: .orderUpdate, hookTimestampNanos: 12, utcOffsetMinutes: 120, body: .order(
      Order(order: 2001, externalId: "", login: 5001, symbol: "EURUSD", type: .buyLimit, state: .partial, reason: 1,
            digits: 5, priceOrder: ExactDecimal("1.1")!, priceSL: .zero, priceTP: ExactDecimal("1.2")!,
            volumeInitialExt: 300, volumeCurrentExt: 100, positionId: 0, timeSetup: t, timeDone: nil, comment: "c"))),
    Event(serverId: 7, sequence: 3, kind: .positionDelete, hookTimestampNanos: 13, utcOffsetMinutes: 120, body: .position(
      Position(position: 2001, login: 5001, symbol: "XAUUSD", action: .sell, digits: 2, volumeExt: 0,
               priceOpen: ExactDecimal("1950.25")!, priceCurrent: ExactDecimal("1949.00")!, profit: d,
               storage: ExactDecimal("-1.5")!, timeCreate: t, timeUpdate: t, comment: ""))),
    Event(serverId: 7, sequence: 4, kind: .tradeAdd, hookTimestampNanos: 14, utcOffsetMinutes: 120, body: .trade(
      Trade(ticket: 777, login: 6001, symbol: "", digits: 2, command: .balance, volume: 0, openTime: t, state: 0,
            openPrice: .zero, sl: .zero, tp: .zero, closeTime: t, closePrice: .zero, commission: .zero,
            storage: .zero, profit: ExactDecimal("250")!, taxes: .zero, magic: -1, comment: "wire #55", timestamp: t,
            user: TradeUserInfo(login: 6001, group: "g", name: "n", leverage: 100, balance: ExactDecimal("250")!,
                                credit: .zero), mode: .add(.api)))),
    Event(serverId: 7, sequence: 5, kind: .userUpdate, hookTimestampNanos: 15, utcOffsetMinutes: 120, body: .user(
      User(login: 5001, group: "real", name: "Zoë", email: "z@x", country: "DE", currency: "EUR", currencyDigits: 2,
           leverage: 30, marginMode: .retailNetting, balance: ExactDecimal("10000.55")!, credit: ExactDecimal("500.00")!,
           registration: t, lastUpdate: t, comment: ""))),
    Event(serverId: 7, sequence: 6, kind: .gap, hookTimestampNanos: 16, utcOffsetMinutes: 120, body: .gap(
      Gap(firstSequence: 6, count: 3, reason: .overflow))),
    Event(serverId: 7, sequence: 7, kind: .dealAdd, hookTimestampNanos: 17, utcOffsetMinutes: 120, body: .quarantine(
      Quarantine(kind: .dealAdd, reason: "deal.profit is not finite", declaredSize: 256, mode: 0,
                 rawBytes: [1, 2, 3], secondaryBytes: []))),
  ]
}

@Suite struct EventCodecSpecification {
  @Test func roundTripsEveryBodyType() throws {
    for event in everyBodyEvents() {
      let decoded = try EventCodec.decode(EventCodec.encode(event))
      #expect(decoded == event)
    }
  }

  @Test func gapReasonsHaveStableRawValuesAndNames() throws {
    #expect(GapReason.allCases.map(\.rawValue) == [1, 2, 3, 4])
    #expect(GapReason.allCases.map(\.name) == ["overflow", "uncommitted", "other", "filtered"])
    #expect(GapReason.allCases.filter { !$0.isLoss } == [.filtered])
    let filtered = Event(serverId: 7, sequence: 9, kind: .gap, hookTimestampNanos: 1, utcOffsetMinutes: 0,
                         body: .gap(Gap(firstSequence: 9, count: 1, reason: .filtered)))
    let bytes = EventCodec.encode(filtered)
    #expect(bytes.last == 4)
    #expect(try EventCodec.decode(bytes) == filtered)
  }

  @Test func aGapStatingItsRefusedCountUsesTag8AndOtherGapsKeepTheirBytes() throws {
    var gap = everyBodyEvents()[5]
    let plain = EventCodec.encode(gap)
    #expect(plain[27] == 6 && plain.count == 28 + 17, "a gap without the count is unchanged")
    gap.body = .gap(Gap(firstSequence: 6, count: 1, reason: .overflow, refusedEvents: 952))
    let stated = EventCodec.encode(gap)
    #expect(stated[27] == 8)
    #expect(Array(stated[28...]) == [6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xB8, 3, 0, 0, 0, 0, 0, 0])
    #expect(try EventCodec.decode(stated) == gap)
    for cut in 0..<stated.count {
      #expect(throws: EventDecodingError.truncated) { try EventCodec.decode(Array(stated[..<cut])) }
    }
  }

  @Test func keepsTheScaleOfDecimals() throws {
    let event = everyBodyEvents()[0]
    guard case .deal(let d) = try EventCodec.decode(EventCodec.encode(event)).body else { return }
    #expect(d.storage.description == "0.30")
    #expect(d.profit.description == "-12.30")
  }

  @Test func startsWithTheFormatVersionAndLittleEndianHeader() {
    let bytes = EventCodec.encode(everyBodyEvents()[5])
    #expect(Array(bytes.prefix(7)) == [1, 32, 0, 7, 0, 0, 0])
    #expect(bytes.count == 28 + 17)
  }

  @Test func reportsTruncationAtEveryLength() {
    for event in everyBodyEvents() {
      let bytes = EventCodec.encode(event)
      for cut in 0..<bytes.count {
        #expect(throws: EventDecodingError.truncated) { try EventCodec.decode(Array(bytes[..<cut])) }
      }
    }
  }

  @Test func rejectsTrailingBytesUnknownVersionKindAndTag() {
    let bytes = EventCodec.encode(everyBodyEvents()[5])
    #expect(throws: EventDecodingError.trailingBytes(1)) { try EventCodec.decode(bytes + [0]) }
    var v = bytes; v[0] = 2
    #expect(throws: EventDecodingError.unsupportedVersion(2)) { try EventCodec.decode(v) }
    var k = bytes; k[1] = 99
    #expect(throws: EventDecodingError.unknownRecordKind(99)) { try EventCodec.decode(k) }
    var t = bytes; t[27] = 50
    #expect(throws: EventDecodingError.unknownBodyTag(50)) { try EventCodec.decode(t) }
  }

  @Test func neverTrapsOnGarbage() {
    var rng = SplitMix64(seed: 99)
    let valid = everyBodyEvents().map(EventCodec.encode)
    for round in 0..<50_000 {
      var bytes: [UInt8]
      if round % 2 == 0 {
        bytes = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      } else {  // mutate a valid encoding
        bytes = valid[round % valid.count]
        for _ in 0..<(1 + Int(rng.next() % 4)) {
          bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
        }
      }
      _ = try? EventCodec.decode(bytes)
    }
  }
}
