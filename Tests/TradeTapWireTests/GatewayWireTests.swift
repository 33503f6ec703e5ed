import Testing
import TradeTapEvents
import TradeTapWire

/// Gateway events (issue 11) travel in the same event batches as deals: framed,
/// checksummed, decoded byte by byte or whole, and a damaged one is refused, never a trap.
@Suite struct GatewayWireSpecification {
  static let batch: Message = {
    let t = BrokerTime(brokerMilliseconds: 1_700_000_000_000, utcOffsetMinutes: 0)
    func event(_ sequence: UInt64, _ kind: RecordKind, _ body: GatewayEvent) -> Event {
      Event(serverId: 501, sequence: sequence, kind: kind, hookTimestampNanos: sequence, utcOffsetMinutes: 0,
            body: .gateway(body))
    }
    return .eventBatch(EventBatch(firstSequence: 1, events: [
      event(1, .dealerLock, .request(TradeRequest(
        requestId: 1, serverId: 1, login: 2000, group: "real", symbol: "EURUSD", digits: 5, action: .market, type: 0,
        flags: 0, volumeExt: 100_000_000, order: 1, positionId: 0, priceOrder: ExactDecimal("1.08130")!,
        priceSL: .zero, priceTP: .zero, priceBid: ExactDecimal("1.08120")!, priceAsk: ExactDecimal("1.08130")!,
        time: t, comment: ""))),
      event(2, .dealerAnswer, .answer(DealerAnswer(
        requestId: 1, serverId: 1, retcode: 10008, order: 1, deal: 0, volumeExt: 100_000_000,
        price: ExactDecimal("1.0813")!, priceBid: ExactDecimal("1.0812")!, priceAsk: ExactDecimal("1.0813")!,
        time: t, comment: ""))),
      event(3, .execution, .execution(Execution(
        executionId: 1, serverId: 1, action: .orderFill, flags: 0, requestId: 1, login: 2000, group: "real",
        symbol: "EURUSD", digits: 5, order: 1, orderExternalId: "O1", orderType: .buy, orderVolumeExt: 100_000_000,
        orderPrice: ExactDecimal("1.08130")!, dealExternalId: "D1", dealAction: .buy, dealVolumeExt: 100_000_000,
        dealVolumeRemainingExt: 0, dealPrice: ExactDecimal("1.08132")!, priceGateway: ExactDecimal("1.08130")!,
        dealCommission: ExactDecimal("-0.7")!, positionId: 0, externalRetcode: 0, time: t, comment: ""))),
      event(4, .executionAck, .executionAck(ExecutionAck(serverId: 1, executionId: 1))),
    ]))
  }()

  @Test func aBatchOfGatewayEventsDecodesByteByByteAndWhole() throws {
    let bytes = FrameEncoder().encode(Self.batch)
    for chunkSize in [1, 7, bytes.count] {
      var decoder = FrameDecoder()
      var messages: [Message] = []
      for start in stride(from: 0, to: bytes.count, by: chunkSize) {
        decoder.append(Array(bytes[start..<min(start + chunkSize, bytes.count)]))
        while let frame = try decoder.nextFrame() { messages.append(try Message(frame: frame)) }
      }
      try decoder.finish()
      #expect(messages == [Self.batch])
    }
  }

  @Test func everyTruncatedGatewayBatchPayloadIsRefused() throws {
    let payload = Self.batch.encodePayload()
    for cut in 0..<payload.count {
      #expect(throws: (any Error).self) { try Message(frame: Frame(type: .eventBatch, payload: Array(payload[..<cut]))) }
    }
  }

  @Test func damagedGatewayBatchesAreRefusedOrDecodeToWhatTheySay() {
    var rng = SplitMix64(seed: 11)  // deterministic: a failure replays
    let payload = Self.batch.encodePayload()
    for _ in 0..<20_000 {
      var bytes = payload
      for _ in 0..<Int.random(in: 1...4, using: &rng) {
        bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
      }
      if let message = try? Message(frame: Frame(type: .eventBatch, payload: bytes)) {
        #expect((try? Message(frame: message.frame)) == message)
      }
    }
  }
}

