import TradeServerAPI
import TradeTapEvents

/// Writes `text` into a fixed C char array (no NUL when it fills the array).
func setText<T>(_ field: inout T, _ text: String) {
  setBytes(&field, Array(text.utf8))
}

func setBytes<T>(_ field: inout T, _ bytes: [UInt8]) {
  withUnsafeMutableBytes(of: &field) { buffer in
    for i in 0..<buffer.count { buffer[i] = i < bytes.count ? bytes[i] : 0 }
  }
}

/// A raw record captured from a C struct the way the hook captures it.
func capture<T>(_ kind: RecordKind, _ value: T, mode: Int32 = 0) -> RawRecord {
  var copy = value
  return withUnsafePointer(to: &copy) { RawRecord(kind: kind, record: UnsafeRawPointer($0), mode: mode) }
}

func captureTrade(_ kind: RecordKind, _ trade: ts_trade_record, _ user: ts_user_info?, mode: Int32) -> RawRecord {
  var t = trade
  return withUnsafePointer(to: &t) { tp in
    if var u = user {
      return withUnsafePointer(to: &u) {
        RawRecord(kind: kind, record: UnsafeRawPointer(tp), mode: mode, secondary: UnsafeRawPointer($0))
      }
    }
    return RawRecord(kind: kind, record: UnsafeRawPointer(tp), mode: mode, secondary: nil)
  }
}

func sampleDeal() -> ts_deal {
  var d = ts_deal()
  d.struct_size = UInt32(MemoryLayout<ts_deal>.size)
  d.deal = 1001
  setText(&d.external_id, "ext-1")
  d.login = 5001
  d.order = 2001
  d.position_id = 2001
  d.action = UInt32(TS_DEAL_BUY)
  d.entry = UInt32(TS_ENTRY_IN)
  d.reason = 42  // not a known TS_REASON_*: passes through
  setText(&d.symbol, "EURUSD")
  d.digits = 5
  d.currency_digits = 2
  d.time_msc = 1_700_000_000_123
  d.price = 1.08345
  d.volume_ext = 150_000_000
  d.contract_size = 100_000
  d.profit = -12.3
  d.commission = -3.5
  d.storage = 0.1 + 0.2
  d.fee = 0
  setText(&d.comment, "hello")
  return d
}

func sampleUser() -> ts_user {
  var u = ts_user()
  u.struct_size = UInt32(MemoryLayout<ts_user>.size)
  u.login = 5001
  setText(&u.group, "real\\hedge")
  setText(&u.name, "Zoë Müller")
  setText(&u.email, "zoe@example.com")
  setText(&u.country, "Deutschland")
  setText(&u.currency, "USD")
  u.currency_digits = 2
  u.leverage = 100
  u.margin_mode = UInt32(TS_MARGIN_RETAIL_HEDGING)
  u.balance = 10_000.55
  u.credit = 500
  u.registration_msc = 1_600_000_000_000
  u.last_update_msc = 1_700_000_000_000
  return u
}

func sampleTrade() -> ts_trade_record {
  var t = ts_trade_record()
  t.struct_size = UInt32(MemoryLayout<ts_trade_record>.size)
  t.order = 777
  t.login = 6001
  setText(&t.symbol, "GBPUSD")
  t.digits = 5
  t.cmd = TS_OP_SELL
  t.volume = 150
  t.open_time = 1_700_000_000
  t.open_price = 1.25001
  t.close_time = 0
  t.profit = 15.75
  setText(&t.comment, "from #123")
  t.timestamp = 1_700_000_100
  return t
}

func sampleUserInfo() -> ts_user_info {
  var u = ts_user_info()
  u.struct_size = UInt32(MemoryLayout<ts_user_info>.size)
  u.login = 6001
  setText(&u.group, "mt4real")
  setText(&u.name, "Ann")
  u.leverage = 200
  u.balance = 2_500.1
  u.credit = 100
  return u
}
