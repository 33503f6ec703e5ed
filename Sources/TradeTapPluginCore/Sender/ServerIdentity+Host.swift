import TradeServerAPI
import TradeTapWire

extension ServerIdentity {
  /// The hello's identity from the host's `ts_server_info`; nil when the host names
  /// no known platform (the hello then carries none and the collector's row stays
  /// as it was). A name that is not UTF-8 is decoded with replacement characters:
  /// it is a label, never a key.
  init?(host info: ts_server_info) {
    guard info.platform == UInt32(TS_PLATFORM_MT4) || info.platform == UInt32(TS_PLATFORM_MT5) else { return nil }
    let name = withUnsafeBytes(of: info.name) { bytes in
      String(decoding: bytes[..<(bytes.firstIndex(of: 0) ?? bytes.count)], as: UTF8.self)
    }
    self.init(name: name, platform: UInt8(info.platform), utcOffsetMinutes: info.utc_offset_minutes)
  }
}
