import Testing
import TradeServerAPI
import TradeTapEvents

@Suite struct RawCaptureSpecification {
  @Test func copiesTheDeclaredBytesAndZeroFillsTheRestIntoJournalMemory() {
    var d = sampleDeal()
    d.struct_size = 64
    var slot = [UInt8](repeating: 0xCC, count: 256)  // stale bytes from an earlier record
    let declared = withUnsafePointer(to: &d) { record in
      slot.withUnsafeMutableBytes { RecordLayout.capture(UnsafeRawPointer(record), structSize: 256, into: $0.baseAddress) }
    }
    #expect(declared == 64)
    let original = withUnsafeBytes(of: &d) { Array($0) }
    #expect(Array(slot[..<64]) == Array(original[..<64]))
    #expect(slot[64...].allSatisfy { $0 == 0 })
  }

  @Test func writesNothingForANullRecord() {
    var slot = [UInt8](repeating: 0xCC, count: 256)
    let declared = slot.withUnsafeMutableBytes { RecordLayout.capture(nil, structSize: 256, into: $0.baseAddress) }
    #expect(declared == 0)
    #expect(slot.allSatisfy { $0 == 0xCC })
  }

  @Test func capturesTheUserInfoOfAnMT4TradeWithItsOwnDeclaredSize() {
    let record = captureTrade(.tradeAdd, sampleTrade(), sampleUserInfo(), mode: TS_OPEN_NEW)
    #expect(record.bytes.count == 160 && record.declaredSize == 160)
    #expect(record.secondaryBytes.count == 176 && record.secondaryDeclaredSize == 176)
    #expect(record.mode == TS_OPEN_NEW)
    let withoutUser = captureTrade(.tradeAdd, sampleTrade(), nil, mode: TS_OPEN_NEW)
    #expect(withoutUser.secondaryBytes.isEmpty && withoutUser.secondaryDeclaredSize == 0)
  }

  @Test func quarantinesAJournalRecordOfTheWrongLength() {
    let record = RawRecord(kind: .userAdd, declaredSize: 432, bytes: [1, 2, 3])
    let event = Normaliser.normalise(record, serverId: 1, sequence: 1, utcOffsetMinutes: 0)
    #expect(event.body == .quarantine(Quarantine(kind: .userAdd, reason: "ts_user raw length 3, expected 432",
                                                 declaredSize: 432, rawBytes: [1, 2, 3])))
  }

  @Test func quarantinesAGapKindPassedAsAHostRecord() {
    let event = Normaliser.normalise(RawRecord(kind: .gap, declaredSize: 0, bytes: []), serverId: 1, sequence: 1, utcOffsetMinutes: 0)
    guard case .quarantine(let q) = event.body else { Issue.record("not quarantined"); return }
    #expect(q.reason == "a gap is not a host record")
  }
}
