import TradeServerAPI
import TradeTapPluginCore

/// `ts_plugin_about`: name, version, vendor, description and the parameter table
/// with defaults, written only into fields that lie wholly inside the host's
/// `struct_size`.
enum PluginAbout {
  static let name = "TradeTap"
  static let version = "0.1.0"
  static let vendor = "TradeTap"
  static let description =
    "Journals every deal, order, position, trade and account event at the hook and forwards it over TLS to the TradeTap collector."

  static let gatewayDescription =
    "Journals every request, answer and execution at the gateway's hooks and forwards them over TLS to the TradeTap collector."

  /// - Parameter gateway: `ts_gateway_about`: the gateway's description and journal default.
  static func fill(_ destination: UnsafeMutableRawPointer, gateway: Bool = false) {
    let declared = Int(destination.loadUnaligned(as: UInt32.self))
    var info = ts_plugin_info()
    info.struct_size = UInt32(MemoryLayout<ts_plugin_info>.size)
    info.api_version = UInt32(TS_API_VERSION)
    withUnsafeMutableBytes(of: &info.name) { write(name, into: $0) }
    withUnsafeMutableBytes(of: &info.version) { write(version, into: $0) }
    withUnsafeMutableBytes(of: &info.vendor) { write(vendor, into: $0) }
    withUnsafeMutableBytes(of: &info.description) { write(gateway ? gatewayDescription : description, into: $0) }

    // Parameters: only entries that fit wholly inside struct_size are counted.
    let paramsOffset = MemoryLayout<ts_plugin_info>.size - 32 * MemoryLayout<ts_param>.size
    let room = max(0, (declared - paramsOffset) / MemoryLayout<ts_param>.size)
    let definitions = gateway ? PluginParameters.gatewayDefinitions : PluginParameters.definitions
    let listed = min(definitions.count, room, 32)
    info.params_total = UInt32(listed)
    withUnsafeMutableBytes(of: &info.params) { params in
      for index in 0..<listed {
        let entry = UnsafeMutableRawBufferPointer(rebasing: params[(index * 320)..<(index * 320 + 320)])
        write(definitions[index].name, into: UnsafeMutableRawBufferPointer(rebasing: entry[0..<64]))
        write(definitions[index].defaultValue, into: UnsafeMutableRawBufferPointer(rebasing: entry[64..<320]))
      }
    }

    // Field ends in declaration order; copy up to the last one inside struct_size,
    // keeping the host's struct_size.
    let fieldEnds = [4, 8, 72, 104, 168, 424, 428] + (1...32).map { paramsOffset + $0 * MemoryLayout<ts_param>.size }
    let limit = fieldEnds.last { $0 <= declared } ?? 4
    if limit > 4 {
      withUnsafeBytes(of: &info) { source in
        (destination + 4).copyMemory(from: source.baseAddress! + 4, byteCount: limit - 4)
      }
    }
  }

  /// Writes UTF-8 text NUL-terminated, truncated to fit (never splitting a character).
  static func write(_ text: String, into buffer: UnsafeMutableRawBufferPointer) {
    var bytes = Array(text.utf8)
    if bytes.count > buffer.count - 1 {
      var cut = buffer.count - 1
      while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
      bytes = Array(bytes[..<cut])
    }
    buffer.copyBytes(from: bytes)
    buffer[bytes.count] = 0
  }

  /// A fixed char array as text: up to the first NUL, or the whole array.
  static func fixedText(_ bytes: UnsafeRawBufferPointer) -> String {
    let end = bytes.firstIndex(of: 0) ?? bytes.count
    return String(decoding: bytes[..<end], as: UTF8.self)
  }
}
