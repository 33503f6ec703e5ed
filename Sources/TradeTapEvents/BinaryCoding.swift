// Little-endian primitives shared by the event codec and the wire protocol.

/// Appends little-endian values to a byte array.
public struct BinaryWriter: Sendable {
  /// Everything written so far.
  public var bytes: [UInt8]

  public init(capacity: Int = 256) {
    bytes = []
    bytes.reserveCapacity(capacity)
  }

  @inlinable public mutating func write(_ value: UInt8) { bytes.append(value) }
  @inlinable public mutating func write(_ value: UInt16) { appendLittleEndian(value) }
  @inlinable public mutating func write(_ value: UInt32) { appendLittleEndian(value) }
  @inlinable public mutating func write(_ value: UInt64) { appendLittleEndian(value) }
  @inlinable public mutating func write(_ value: Int32) { appendLittleEndian(UInt32(bitPattern: value)) }
  @inlinable public mutating func write(_ value: Int64) { appendLittleEndian(UInt64(bitPattern: value)) }
  @inlinable public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

  /// Raw bytes, no prefix.
  @inlinable public mutating func write(raw: some Sequence<UInt8>) { bytes.append(contentsOf: raw) }

  /// UTF-8 with a `u16` length prefix; longer strings are cut at 65,535 bytes on
  /// a character boundary so the result stays valid UTF-8.
  public mutating func write(string: String) {
    var utf8 = Array(string.utf8)
    if utf8.count > Int(UInt16.max) {
      var end = Int(UInt16.max)
      while end > 0, utf8[end] & 0xC0 == 0x80 { end -= 1 }
      utf8 = Array(utf8[..<end])
    }
    write(UInt16(utf8.count))
    bytes.append(contentsOf: utf8)
  }

  /// Bytes with a `u32` length prefix.
  public mutating func write(lengthPrefixed data: [UInt8]) {
    write(UInt32(truncatingIfNeeded: data.count))
    bytes.append(contentsOf: data)
  }

  /// An exact decimal: `i64` mantissa, `u8` scale.
  public mutating func write(_ value: ExactDecimal) {
    write(value.mantissa)
    write(value.scale)
  }

  @inlinable mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
  }
}

/// Why bytes could not be read.
public enum BinaryReadError: Error, Sendable, Hashable {
  /// Fewer bytes remain than the value needs.
  case truncated
  /// A string is not valid UTF-8.
  case invalidUTF8
  /// A decimal's scale exceeds ``ExactDecimal/maxScale``.
  case invalidDecimalScale(UInt8)
  /// A boolean byte other than 0 or 1.
  case invalidBool(UInt8)
}

/// Reads little-endian values from a byte array; never reads out of bounds.
public struct BinaryReader: Sendable {
  public let bytes: [UInt8]
  /// Index of the next byte to read.
  public private(set) var position: Int
  /// One past the last readable byte.
  public let end: Int

  public init(_ bytes: [UInt8]) {
    self.bytes = bytes
    self.position = 0
    self.end = bytes.count
  }

  /// Reads `bytes[range]` only.
  public init(_ bytes: [UInt8], range: Range<Int>) {
    self.bytes = bytes
    self.position = max(0, min(range.lowerBound, bytes.count))
    self.end = max(position, min(range.upperBound, bytes.count))
  }

  /// Bytes left.
  public var remaining: Int { end - position }

  public mutating func readUInt8() throws(BinaryReadError) -> UInt8 {
    guard remaining >= 1 else { throw .truncated }
    defer { position += 1 }
    return bytes[position]
  }

  public mutating func readUInt16() throws(BinaryReadError) -> UInt16 { try readInteger() }
  public mutating func readUInt32() throws(BinaryReadError) -> UInt32 { try readInteger() }
  public mutating func readUInt64() throws(BinaryReadError) -> UInt64 { try readInteger() }
  public mutating func readInt32() throws(BinaryReadError) -> Int32 { Int32(bitPattern: try readInteger()) }
  public mutating func readInt64() throws(BinaryReadError) -> Int64 { Int64(bitPattern: try readInteger()) }

  public mutating func readBool() throws(BinaryReadError) -> Bool {
    let b = try readUInt8()
    guard b <= 1 else { throw .invalidBool(b) }
    return b == 1
  }

  /// `count` raw bytes.
  public mutating func readBytes(count: Int) throws(BinaryReadError) -> [UInt8] {
    guard count >= 0, remaining >= count else { throw .truncated }
    defer { position += count }
    return Array(bytes[position..<(position + count)])
  }

  /// Skips `count` bytes.
  public mutating func skip(_ count: Int) throws(BinaryReadError) {
    guard count >= 0, remaining >= count else { throw .truncated }
    position += count
  }

  /// A `u16`-length-prefixed UTF-8 string.
  public mutating func readString() throws(BinaryReadError) -> String {
    let count = Int(try readUInt16())
    guard remaining >= count else { throw .truncated }
    defer { position += count }
    guard let s = String(validating: bytes[position..<(position + count)], as: UTF8.self) else {
      throw .invalidUTF8
    }
    return s
  }

  /// `u32`-length-prefixed bytes.
  public mutating func readLengthPrefixed() throws(BinaryReadError) -> [UInt8] {
    let count = try readUInt32()
    guard UInt64(count) <= UInt64(remaining) else { throw .truncated }
    return try readBytes(count: Int(count))
  }

  /// An exact decimal: `i64` mantissa, `u8` scale.
  public mutating func readDecimal() throws(BinaryReadError) -> ExactDecimal {
    let mantissa = try readInt64()
    let scale = try readUInt8()
    guard let d = ExactDecimal(mantissa: mantissa, scale: scale) else { throw .invalidDecimalScale(scale) }
    return d
  }

  mutating func readInteger<T: FixedWidthInteger>() throws(BinaryReadError) -> T {
    let size = MemoryLayout<T>.size
    guard remaining >= size else { throw .truncated }
    var value: T = 0
    for i in 0..<size {
      value |= T(truncatingIfNeeded: bytes[position + i]) << (8 * i)
    }
    position += size
    return value
  }
}
