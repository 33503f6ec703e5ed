import Testing
import TradeServerAPI
import TradeTapEvents

@Suite struct NormaliserSpecification {
  func normalise(_ record: RawRecord, offset: Int32 = 120) -> Event {
    Normaliser.normalise(record, serverId: 7, sequence: 99, hookTimestampNanos: 5, utcOffsetMinutes: offset)
  }

  func quarantineReason(_ event: Event) -> String? {
    if case .quarantine(let q) = event.body { return q.reason }
    return nil
  }

  @Test func keepsEveryDealFieldWithPlatformIdentifiersAndExactMoney() throws {
    let event = normalise(capture(.dealAdd, sampleDeal()))
    #expect(event.serverId == 7 && event.sequence == 99 && event.kind == .dealAdd && event.hookTimestampNanos == 5)
    guard case .deal(let d) = event.body else { Issue.record("not a deal: \(event.body)"); return }
    #expect(d.deal == 1001 && d.login == 5001 && d.order == 2001 && d.positionId == 2001)
    #expect(d.externalId == "ext-1" && d.symbol == "EURUSD" && d.comment == "hello")
    #expect(d.action == .buy && d.entry == .in && d.reason == 42)
    #expect(d.price.description == "1.08345")
    #expect(d.profit.description == "-12.30")
    #expect(d.commission.description == "-3.50")
    #expect(d.storage.description == "0.30")
    #expect(d.fee.description == "0.00")
    #expect(d.contractSize.description == "100000")
    #expect(d.volumeExt == 150_000_000)
    #expect(d.balanceOperationType == nil)
  }

  @Test func keepsBrokerTimeAndComputesUTCFromTheOffset() {
    let event = normalise(capture(.dealAdd, sampleDeal()), offset: 120)
    guard case .deal(let d) = event.body else { Issue.record("not a deal"); return }
    #expect(d.time.brokerMilliseconds == 1_700_000_000_123)
    #expect(d.time.utcMilliseconds == 1_700_000_000_123 - 120 * 60_000)
    #expect(event.utcOffsetMinutes == 120)
  }

  @Test func classifiesBalanceDealsBySignAndAction() {
    func type(_ action: Int32, _ profit: Double) -> BalanceOperationType? {
      var d = sampleDeal()
      d.action = UInt32(action)
      d.profit = profit
      guard case .deal(let deal) = normalise(capture(.dealAdd, d)).body else { return nil }
      return deal.balanceOperationType
    }
    #expect(type(TS_DEAL_BALANCE, 100) == .deposit)
    #expect(type(TS_DEAL_BALANCE, -100) == .withdrawal)
    #expect(type(TS_DEAL_CREDIT, 50) == .creditIn)
    #expect(type(TS_DEAL_CREDIT, -50) == .creditOut)
    #expect(type(TS_DEAL_BONUS, 10) == .bonus)
    #expect(type(TS_DEAL_CORRECTION, -1) == .correction)
    #expect(type(TS_DEAL_COMMISSION_DAILY, -1) == .commissionDaily)
    #expect(type(TS_DEAL_INTERESTRATE, 1) == .interest)
    #expect(type(TS_DEAL_SO_COMPENSATION_CREDIT, 1) == .soCompensationCredit)
    #expect(type(TS_DEAL_BUY_CANCELED, 1) == nil)
    #expect(BalanceOperationType.soCompensationCredit.affectsCredit)
    #expect(!BalanceOperationType.deposit.affectsCredit)
  }

  @Test func normalisesUsersWithBalanceAndCreditDistinct() {
    guard case .user(let u) = normalise(capture(.userUpdate, sampleUser())).body else {
      Issue.record("not a user"); return
    }
    #expect(u.login == 5001 && u.group == "real\\hedge" && u.name == "Zoë Müller" && u.currency == "USD")
    #expect(u.balance.description == "10000.55")
    #expect(u.credit.description == "500.00")
    #expect(u.marginMode == .retailHedging)
  }

  @Test func normalisesMT4TradesWithSecondsAsMillisecondsAndTheUserInfo() {
    let event = normalise(captureTrade(.tradeAdd, sampleTrade(), sampleUserInfo(), mode: TS_OPEN_NEW))
    guard case .trade(let t) = event.body else { Issue.record("not a trade: \(event.body)"); return }
    #expect(t.ticket == 777 && t.login == 6001 && t.command == .sell && t.volume == 150)
    #expect(t.openTime.brokerMilliseconds == 1_700_000_000_000)
    #expect(t.closeTime == nil)
    #expect(t.openPrice.description == "1.25001")
    #expect(t.profit.description == "15.75")
    #expect(t.comment == "from #123")
    #expect(t.mode == .add(.new))
    #expect(t.user?.balance.description == "2500.1")
    #expect(t.user?.group == "mt4real")
  }

  @Test func acceptsANullUserInfoOnMT4Trades() {
    var t = sampleTrade()
    t.cmd = TS_OP_CREDIT
    t.profit = -20
    let event = normalise(captureTrade(.tradeUpdate, t, nil, mode: TS_UPDATE_CLOSE))
    guard case .trade(let trade) = event.body else { Issue.record("not a trade"); return }
    #expect(trade.user == nil)
    #expect(trade.mode == .update(.close))
    #expect(trade.balanceOperationType == .creditOut)
  }

  @Test func quarantinesANullRecordWithoutBytes() {
    let record = RawRecord(kind: .dealAdd, record: nil)
    #expect(record.flags.contains(.nullRecord) && record.bytes.isEmpty)
    let event = normalise(record)
    #expect(quarantineReason(event) == "null record")
    #expect(event.kind == .dealAdd)
  }

  @Test func quarantinesAStructSizeSmallerThanVersionOneAndKeepsTheBytes() {
    var d = sampleDeal()
    d.struct_size = 100
    let record = capture(.dealAdd, d)
    #expect(record.declaredSize == 100)
    #expect(record.bytes.count == MemoryLayout<ts_deal>.size)
    #expect(record.bytes[100...].allSatisfy { $0 == 0 })  // zero-filled beyond the declared size
    let event = normalise(record)
    #expect(quarantineReason(event)?.contains("smaller than the v1 size") == true)
    guard case .quarantine(let q) = event.body else { return }
    #expect(q.rawBytes == record.bytes && q.declaredSize == 100 && q.kind == .dealAdd)
  }

  @Test func copiesOnlyTheDeclaredSizeWhenTheHostsStructIsLarger() {
    // A newer host with a larger struct: the reader takes the v1 part only.
    var big = [UInt8](repeating: 0xEE, count: MemoryLayout<ts_deal>.size + 64)
    var d = sampleDeal()
    d.struct_size = UInt32(big.count)
    withUnsafeBytes(of: &d) { for i in 0..<$0.count { big[i] = $0[i] } }
    let record = big.withUnsafeBytes { RawRecord(kind: .dealAdd, record: $0.baseAddress) }
    #expect(record.bytes.count == MemoryLayout<ts_deal>.size)
    guard case .deal(let deal) = normalise(record).body else { Issue.record("not a deal"); return }
    #expect(deal.deal == 1001)
  }

  @Test(arguments: [Double.nan, .infinity, -.infinity])
  func quarantinesNonFiniteMoney(_ value: Double) {
    var d = sampleDeal()
    d.profit = value
    #expect(quarantineReason(normalise(capture(.dealAdd, d))) == "deal.profit is not finite")
    var u = sampleUser()
    u.credit = value
    #expect(quarantineReason(normalise(capture(.userAdd, u))) == "user.credit is not finite")
  }

  @Test func quarantinesNonFinitePrices() {
    var d = sampleDeal()
    d.price = .nan
    #expect(quarantineReason(normalise(capture(.dealAdd, d))) == "deal.price is not finite")
  }

  @Test func quarantinesAmountsOutOfRange() {
    var d = sampleDeal()
    d.profit = 1e300
    #expect(quarantineReason(normalise(capture(.dealAdd, d))) == "deal.profit is out of range")
    d = sampleDeal()
    d.currency_digits = 40
    #expect(quarantineReason(normalise(capture(.dealAdd, d))) == "deal.currency_digits 40 is out of range")
  }

  @Test func quarantinesUnknownEnumValues() {
    var d = sampleDeal()
    d.action = 21
    #expect(quarantineReason(normalise(capture(.dealAdd, d))) == "deal.action 21 is unknown")
    d = sampleDeal()
    d.entry = 4
    #expect(quarantineReason(normalise(capture(.dealAdd, d))) == "deal.entry 4 is unknown")

    var o = ts_order()
    o.struct_size = UInt32(MemoryLayout<ts_order>.size)
    o.type = 6
    #expect(quarantineReason(normalise(capture(.orderAdd, o))) == "order.type 6 is unknown")
    o.type = 0
    o.state = 7
    #expect(quarantineReason(normalise(capture(.orderAdd, o))) == "order.state 7 is unknown")

    var p = ts_position()
    p.struct_size = UInt32(MemoryLayout<ts_position>.size)
    p.action = 2
    #expect(quarantineReason(normalise(capture(.positionAdd, p))) == "position.action 2 is unknown")

    var t = sampleTrade()
    t.cmd = 8
    #expect(quarantineReason(normalise(captureTrade(.tradeAdd, t, nil, mode: 0))) == "trade.cmd 8 is unknown")
    #expect(quarantineReason(normalise(captureTrade(.tradeAdd, sampleTrade(), nil, mode: 5))) == "trade add mode 5 is unknown")
    #expect(quarantineReason(normalise(captureTrade(.tradeUpdate, sampleTrade(), nil, mode: 4))) == "trade update mode 4 is unknown")

    var u = sampleUser()
    u.margin_mode = 3
    #expect(quarantineReason(normalise(capture(.userAdd, u))) == "user.margin_mode 3 is unknown")
  }

  @Test func passesUnknownReasonsThrough() {
    var d = sampleDeal()
    d.reason = 0xFFFF_FFFF
    guard case .deal(let deal) = normalise(capture(.dealAdd, d)).body else { Issue.record("quarantined"); return }
    #expect(deal.reason == 0xFFFF_FFFF)
  }

  @Test func quarantinesInvalidUTF8InAStringField() {
    var d = sampleDeal()
    setBytes(&d.symbol, [0x45, 0xFF, 0x55])
    #expect(quarantineReason(normalise(capture(.dealAdd, d))) == "deal.symbol is not valid UTF-8")
  }

  @Test func readsAFullCharArrayWithoutNULAsTheArraysLength() {
    var d = sampleDeal()
    let full = String(repeating: "X", count: 32)
    setText(&d.symbol, full)
    guard case .deal(let deal) = normalise(capture(.dealAdd, d)).body else { Issue.record("quarantined"); return }
    #expect(deal.symbol == full)
  }

  @Test func stopsAStringAtTheFirstNUL() {
    var d = sampleDeal()
    setBytes(&d.comment, Array("ab".utf8) + [0, 0xFF, 0xFF])  // garbage after NUL is ignored
    guard case .deal(let deal) = normalise(capture(.dealAdd, d)).body else { Issue.record("quarantined"); return }
    #expect(deal.comment == "ab")
  }

  @Test func quarantinesATooSmallUserInfo() {
    var u = sampleUserInfo()
    u.struct_size = 8
    let reason = quarantineReason(normalise(captureTrade(.tradeAdd, sampleTrade(), u, mode: 0)))
    #expect(reason?.contains("ts_user_info struct_size 8") == true)
  }

  @Test func neverTrapsOnRandomBytes() throws {
    var rng = SplitMix64(seed: 7)
    var quarantined = 0
    for round in 0..<20_000 {
      let kind = RecordKind.allCases[Int(rng.next() % UInt64(RecordKind.allCases.count))]
      let size = round % 3 == 0 ? Int(rng.next() % 600) : RecordLayout.size(of: kind)
      var bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      if round % 2 == 0, bytes.count >= 4 {  // plausible struct_size half of the time
        let s = UInt32(RecordLayout.size(of: kind))
        for i in 0..<4 { bytes[i] = UInt8(truncatingIfNeeded: s >> (8 * UInt32(i))) }
      }
      let secondarySize = RecordLayout.secondarySize(of: kind)
      let secondary = (0..<(round % 5 == 0 ? 0 : secondarySize)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      let record = RawRecord(
        kind: kind, declaredSize: UInt32(truncatingIfNeeded: rng.next() % 1000), mode: Int32(truncatingIfNeeded: rng.next() % 8),
        flags: RawRecordFlags(rawValue: UInt16(truncatingIfNeeded: rng.next() % 4)), bytes: bytes,
        secondaryDeclaredSize: UInt32(truncatingIfNeeded: rng.next() % 400), secondaryBytes: secondary)
      let event = Normaliser.normalise(record, serverId: 1, sequence: UInt64(round), utcOffsetMinutes: Int32(truncatingIfNeeded: rng.next()))
      if case .quarantine = event.body { quarantined += 1 }
      // Whatever came out encodes and decodes back to itself.
      #expect(try EventCodec.decode(EventCodec.encode(event)) == event)
    }
    #expect(quarantined > 0)
  }

  @Test func layoutSizesMatchTheHeader() {
    #expect(RecordLayout.size(of: .dealAdd) == 256)
    #expect(RecordLayout.size(of: .orderUpdate) == 232)
    #expect(RecordLayout.size(of: .positionDelete) == 184)
    #expect(RecordLayout.size(of: .tradeAdd) == 160)
    #expect(RecordLayout.size(of: .userSnapshot) == 432)
    #expect(RecordLayout.secondarySize(of: .tradeUpdate) == 176)
    #expect(RecordLayout.secondarySize(of: .tradeSnapshot) == 0)
    #expect(RecordLayout.size(of: .gap) == 0)
  }
}
