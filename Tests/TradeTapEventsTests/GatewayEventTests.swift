import Testing
import TradeServerAPI
import TradeTapEvents

// The gateway model's records (issue 11): normalised like the server's, quarantined
// like the server's, and carried by the same codec.

func sampleRequest() -> ts_request {
  var r = ts_request()
  r.struct_size = UInt32(MemoryLayout<ts_request>.size)
  r.request_id = 0x1_0000_0007
  r.server_id = 2
  r.login = 2001
  setText(&r.group, "real\\a-book")
  setText(&r.symbol, "EURUSD")
  r.digits = 5
  r.action = UInt32(TS_TA_MARKET)
  r.type = UInt32(TS_ORDER_SELL)
  r.volume_ext = 100_000_000
  r.order = 0x1_0000_0007
  r.price_order = 1.0812
  r.price_bid = 1.0812
  r.price_ask = 1.0813
  r.time_msc = 1_700_000_000_123
  return r
}

func sampleConfirm() -> ts_confirm {
  var c = ts_confirm()
  c.struct_size = UInt32(MemoryLayout<ts_confirm>.size)
  c.request_id = 0x1_0000_0007
  c.server_id = 2
  c.retcode = TS_RET_REQUEST_PLACED
  c.order = 0x1_0000_0007
  c.volume_ext = 100_000_000
  c.price = 1.0812
  c.price_bid = 1.0812
  c.price_ask = 1.0813
  c.time_msc = 1_700_000_000_130
  return c
}

func sampleExecution() -> ts_execution {
  var e = ts_execution()
  e.struct_size = UInt32(MemoryLayout<ts_execution>.size)
  e.execution_id = 42
  e.server_id = 2
  e.action = UInt32(TS_TE_ORDER_FILL)
  e.request_id = 0x1_0000_0007
  e.login = 2001
  setText(&e.group, "real\\a-book")
  setText(&e.symbol, "EURUSD")
  e.digits = 5
  e.order = 0x1_0000_0007
  setText(&e.order_external_id, "LP-O-7")
  e.order_type = UInt32(TS_ORDER_SELL)
  e.order_volume_ext = 100_000_000
  e.order_price = 1.0812
  setText(&e.deal_external_id, "LP-D-7-0")
  e.deal_action = UInt32(TS_DEAL_SELL)
  e.deal_volume_ext = 50_000_000
  e.deal_volume_remaining_ext = 50_000_000
  e.deal_price = 1.08118
  e.price_gateway = 1.0812
  e.deal_commission = -0.7
  e.external_retcode = 0
  e.time_msc = 1_700_000_000_200
  return e
}

/// One event of each gateway body, as the codec tests use them.
func gatewayEvents() -> [Event] {
  let offset: Int32 = 120
  func event(_ sequence: UInt64, _ kind: RecordKind, _ body: GatewayEvent) -> Event {
    Event(serverId: 501, sequence: sequence, kind: kind, hookTimestampNanos: 7 + sequence, utcOffsetMinutes: offset,
          body: .gateway(body))
  }
  let t = BrokerTime(brokerMilliseconds: 1_700_000_000_123, utcOffsetMinutes: offset)
  return [
    event(1, .dealerLock, .request(TradeRequest(
      requestId: 7, serverId: 2, login: 2001, group: "real\\a-book", symbol: "EURUSD", digits: 5, action: .market,
      type: 1, flags: 0x10, volumeExt: 100_000_000, order: 7, positionId: 0, priceOrder: ExactDecimal("1.08120")!,
      priceSL: .zero, priceTP: ExactDecimal("1.07")!, priceBid: ExactDecimal("1.08120")!,
      priceAsk: ExactDecimal("1.08130")!, time: t, comment: "a-book ✓"))),
    event(2, .dealerAnswer, .answer(DealerAnswer(
      requestId: 7, serverId: 2, retcode: 10008, order: 7, deal: 0, volumeExt: 100_000_000,
      price: ExactDecimal("1.0812")!, priceBid: ExactDecimal("1.0812")!, priceAsk: ExactDecimal("1.0813")!, time: t,
      comment: ""))),
    event(3, .execution, .execution(Execution(
      executionId: 42, serverId: 2, action: .orderFill, flags: 0, requestId: 7, login: 2001, group: "real\\a-book",
      symbol: "EURUSD", digits: 5, order: 7, orderExternalId: "LP-O-7", orderType: .sell, orderVolumeExt: 100_000_000,
      orderPrice: ExactDecimal("1.08120")!, dealExternalId: "LP-D-7-0", dealAction: .sell, dealVolumeExt: 50_000_000,
      dealVolumeRemainingExt: 50_000_000, dealPrice: ExactDecimal("1.08118")!, priceGateway: ExactDecimal("1.08120")!,
      dealCommission: ExactDecimal("-0.7")!, positionId: 0, externalRetcode: -3, time: t, comment: "fill"))),
    event(4, .executionAck, .executionAck(ExecutionAck(serverId: 2, executionId: .max))),
  ]
}

@Suite struct GatewayEventSpecification {
  static func normalise(_ record: RawRecord) -> Event {
    Normaliser.normalise(record, serverId: 501, sequence: 9, utcOffsetMinutes: 120)
  }

  static func reason(_ event: Event) -> String? {
    if case .quarantine(let q) = event.body { return q.reason }
    return nil
  }

  @Test func aRequestBecomesATradeRequestWithPricesAtTheSymbolsDigits() throws {
    let event = Self.normalise(capture(.dealerLock, sampleRequest()))
    guard case .gateway(.request(let r)) = event.body else { Issue.record("\(event.body)"); return }
    #expect(event.serverId == 501 && r.serverId == 2)  // the source is the gateway; the record names its server
    #expect(r.requestId == 0x1_0000_0007 && r.action == .market && r.type == 1 && r.group == "real\\a-book")
    #expect(r.priceAsk.description == "1.08130" && r.priceOrder.description == "1.08120")
    #expect(r.time.utcMilliseconds == 1_700_000_000_123 - 120 * 60_000)
  }

  @Test func anAnswerKeepsItsRetcodeAndTrimsPricesWithoutDigits() throws {
    let event = Self.normalise(capture(.dealerAnswer, sampleConfirm()))
    guard case .gateway(.answer(let a)) = event.body else { Issue.record("\(event.body)"); return }
    #expect(a.retcode == 10008 && a.isPlaced && !a.isDone)
    #expect(a.price.description == "1.0812")
  }

  @Test func aFillCarriesTheExternalDealIdTheServersDealWillCarry() throws {
    let event = Self.normalise(capture(.execution, sampleExecution()))
    guard case .gateway(.execution(let x)) = event.body else { Issue.record("\(event.body)"); return }
    #expect(x.executionId == 42 && x.action == .orderFill && x.dealAction == .sell && x.orderType == .sell)
    #expect(x.dealExternalId == "LP-D-7-0" && x.orderExternalId == "LP-O-7" && x.order == 0x1_0000_0007)
    #expect(x.dealPrice.description == "1.08118" && x.dealCommission.description == "-0.7")
    #expect(x.dealVolumeExt == 50_000_000 && x.dealVolumeRemainingExt == 50_000_000)
  }

  @Test func anExecutionAckIsReadFromTheSixteenBytesTheHookWrites() throws {
    var bytes = [UInt8](repeating: 0, count: 16)
    bytes.withUnsafeMutableBytes {
      $0.storeBytes(of: UInt32(3), toByteOffset: 0, as: UInt32.self)
      $0.storeBytes(of: UInt64(77), toByteOffset: 8, as: UInt64.self)
    }
    let event = Self.normalise(RawRecord(kind: .executionAck, declaredSize: 16, bytes: bytes))
    #expect(event.body == .gateway(.executionAck(ExecutionAck(serverId: 3, executionId: 77))))
    let short = Self.normalise(RawRecord(kind: .executionAck, declaredSize: 16, bytes: Array(bytes.prefix(12))))
    #expect(Self.reason(short) == "execution ack raw length 12, expected 16")
  }

  @Test func hostileGatewayRecordsAreQuarantinedWithTheirReason() {
    var r = sampleRequest(); r.price_order = .nan
    #expect(Self.reason(Self.normalise(capture(.dealerLock, r))) == "request.price_order is not finite")
    r = sampleRequest(); r.action = 999
    #expect(Self.reason(Self.normalise(capture(.dealerLock, r))) == "request.action 999 is unknown")
    r = sampleRequest(); setBytes(&r.symbol, [0x45, 0xFF, 0xFE])
    #expect(Self.reason(Self.normalise(capture(.dealerLock, r))) == "request.symbol is not valid UTF-8")
    r = sampleRequest(); r.struct_size = 100
    #expect(Self.reason(Self.normalise(capture(.dealerLock, r))) == "ts_request struct_size 100 is smaller than the v1 size 288")
    r = sampleRequest(); r.struct_size = 0xFFFF_FFFF  // the hook copies 288 bytes and flags it
    #expect(Self.reason(Self.normalise(capture(.dealerLock, r))) == "ts_request struct_size 4294967295 is implausible (above 65536)")
    var c = sampleConfirm(); c.price_ask = -.infinity
    #expect(Self.reason(Self.normalise(capture(.dealerAnswer, c))) == "confirm.price_ask is not finite")
    var e = sampleExecution(); e.deal_price = .nan
    #expect(Self.reason(Self.normalise(capture(.execution, e))) == "execution.deal_price is not finite")
    e = sampleExecution(); e.action = 77
    #expect(Self.reason(Self.normalise(capture(.execution, e))) == "execution.action 77 is unknown")
    e = sampleExecution(); e.deal_action = 99
    #expect(Self.reason(Self.normalise(capture(.execution, e))) == "execution.deal_action 99 is unknown")
    e = sampleExecution(); e.digits = 40
    #expect(Self.reason(Self.normalise(capture(.execution, e))) == "execution.digits 40 is out of range")
    let null = Self.normalise(RawRecord(kind: .execution, record: nil))
    #expect(Self.reason(null) == "null record")
  }

  @Test func anImplausibleStructSizeIsQuarantinedForServerRecordsToo() {
    var d = sampleDeal()
    d.struct_size = 70_000
    #expect(Self.reason(Self.normalise(capture(.dealAdd, d))) == "ts_deal struct_size 70000 is implausible (above 65536)")
    d.struct_size = 300  // a newer host's appended fields: kept, not quarantined
    #expect(Self.reason(Self.normalise(capture(.dealAdd, d))) == nil)
  }

  @Test func stringsThatFillTheirArrayWithoutANulAreValid() throws {
    var e = sampleExecution()
    setText(&e.deal_external_id, String(repeating: "D", count: 32))
    setText(&e.comment, String(repeating: "C", count: 64))
    guard case .gateway(.execution(let x)) = Self.normalise(capture(.execution, e)).body else { Issue.record("quarantined"); return }
    #expect(x.dealExternalId.utf8.count == 32 && x.comment.utf8.count == 64)
  }

  @Test func recordSizesAreTheHeaders() {
    #expect(RecordLayout.size(of: .dealerLock) == 288 && RecordLayout.size(of: .dealerAnswer) == 144)
    #expect(RecordLayout.size(of: .execution) == 384 && RecordLayout.size(of: .executionAck) == 16)
    #expect(RecordLayout.secondarySize(of: .execution) == 0)
    #expect([RecordKind.dealerLock, .dealerAnswer, .execution, .executionAck].map(\.rawValue) == [50, 51, 52, 53])
  }

  @Test func roundTripsEveryGatewayBody() throws {
    for event in gatewayEvents() {
      #expect(try EventCodec.decode(EventCodec.encode(event)) == event)
    }
    // What the normaliser makes round-trips too.
    for record in [capture(.dealerLock, sampleRequest()), capture(.dealerAnswer, sampleConfirm()), capture(.execution, sampleExecution())] {
      let event = Self.normalise(record)
      #expect(try EventCodec.decode(EventCodec.encode(event)) == event)
    }
  }

  @Test func gatewayBodiesUseTheAppendedTags() {
    #expect(gatewayEvents().map { EventCodec.encode($0)[27] } == [9, 10, 11, 12])
    let ack = EventCodec.encode(gatewayEvents()[3])
    #expect(ack.count == 28 + 12)
  }

  @Test func reportsTruncationAtEveryLength() {
    for event in gatewayEvents() {
      let bytes = EventCodec.encode(event)
      for cut in 0..<bytes.count {
        #expect(throws: EventDecodingError.truncated) { try EventCodec.decode(Array(bytes[..<cut])) }
      }
    }
  }

  @Test func rejectsUnknownActionsOnTheWire() throws {
    // request.action sits after u64 request_id, u32 server_id, u64 login, "real\a-book", "EURUSD", u32 digits.
    var request = EventCodec.encode(gatewayEvents()[0])
    let actionAt = 28 + 8 + 4 + 8 + (2 + 11) + (2 + 6) + 4
    #expect(request[actionAt] == 3)
    request[actionAt] = 200
    #expect(throws: EventDecodingError.invalidEnumValue(field: "request.action", value: 200)) { try EventCodec.decode(request) }
    var execution = EventCodec.encode(gatewayEvents()[2])
    let executionActionAt = 28 + 8 + 4
    #expect(execution[executionActionAt] == 2)
    execution[executionActionAt] = 13
    #expect(throws: EventDecodingError.invalidEnumValue(field: "execution.action", value: 13)) { try EventCodec.decode(execution) }
  }

  @Test func neverTrapsOnMutatedGatewayEvents() {
    var rng = SplitMix64(seed: 11)
    let valid = gatewayEvents().map(EventCodec.encode)
    for round in 0..<40_000 {
      var bytes = valid[round % valid.count]
      for _ in 0..<(1 + Int(rng.next() % 4)) {
        bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
      }
      if let event = try? EventCodec.decode(bytes) {
        #expect((try? EventCodec.decode(EventCodec.encode(event))) == event)
      }
    }
  }

  @Test func theNormaliserNeverTrapsOnGarbageGatewayRecords() {
    var rng = SplitMix64(seed: 12)
    for round in 0..<20_000 {
      let kind: RecordKind = [.dealerLock, .dealerAnswer, .execution, .executionAck][round % 4]
      let size = RecordLayout.size(of: kind)
      let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      let declared = round % 3 == 0 ? UInt32(size) : UInt32(truncatingIfNeeded: rng.next())
      let event = Normaliser.normalise(RawRecord(kind: kind, declaredSize: declared, bytes: bytes), serverId: 501,
                                       sequence: 1, utcOffsetMinutes: 0)
      #expect((try? EventCodec.decode(EventCodec.encode(event))) == event)
    }
  }
}
