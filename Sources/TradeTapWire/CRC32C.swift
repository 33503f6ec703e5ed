/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the frame checksum.
/// Software, slicing-by-8: no dependency on CPU instructions or C.
public enum CRC32C {
  /// The checksum of `bytes` (initial value and final XOR 0xFFFFFFFF, as in iSCSI / RFC 3720).
  public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    ~update(0xFFFF_FFFF, bytes)
  }

  /// The checksum of `bytes`.
  public static func checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { checksum($0) }
  }

  /// The checksum of `bytes[range]`; an out-of-bounds range is clamped.
  public static func checksum(_ bytes: [UInt8], range: Range<Int>) -> UInt32 {
    let lower = max(0, min(range.lowerBound, bytes.count))
    let upper = max(lower, min(range.upperBound, bytes.count))
    return bytes.withUnsafeBytes { checksum(UnsafeRawBufferPointer(rebasing: $0[lower..<upper])) }
  }

  /// Continues a running (non-inverted) CRC state over `bytes`.
  static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc = state
    var index = 0
    let count = bytes.count
    table.withUnsafeBufferPointer { t in
      while count - index >= 8 {
        let lo = bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self).littleEndian ^ crc
        let hi = bytes.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self).littleEndian
        crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
          ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
          ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
          ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
        index += 8
      }
      while index < count {
        crc = t[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
        index += 1
      }
    }
    return crc
  }

  /// 8 × 256 entries: table[k][b] is the CRC of byte b followed by k zero bytes.
  static let table: [UInt32] = {
    var t = [UInt32](repeating: 0, count: 8 * 256)
    for b in 0..<256 {
      var crc = UInt32(b)
      for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
      t[b] = crc
    }
    for k in 1..<8 {
      for b in 0..<256 {
        let prev = t[(k - 1) * 256 + b]
        t[k * 256 + b] = t[Int(prev & 0xFF)] ^ (prev >> 8)
      }
    }
    return t
  }()
}
