/// Fixed limits of protocol version 1. Both peers enforce them.
public enum WireLimits {
  /// Size of the frame header.
  public static let headerSize = 16
  /// Largest payload a frame may carry (1 MiB).
  public static let maxFramePayload = 1 << 20
  /// Most events an event batch (or snapshot chunk) may carry.
  public static let maxEventsPerBatch = 4096
  /// Length of each side's handshake nonce.
  public static let nonceLength = 32
  /// Length of an HMAC-SHA256 proof.
  public static let proofLength = 32
  /// Longest error text (bytes of UTF-8).
  public static let maxErrorMessageLength = 1024
  /// Longest server name in a hello (bytes of UTF-8; `ts_server_info.name` is 64 chars).
  public static let maxServerNameLength = 64
  /// Longest CRM comment of a money movement, and reason of a command result (bytes of UTF-8).
  public static let maxCommandTextLength = 255
}

/// The header every frame starts with (16 bytes, little-endian):
///
/// ```
///  0       4   5   6       8               12              16
///  +-------+---+---+-------+---------------+---------------+
///  | "TTAP"|ver|typ| flags | payload length| CRC32C(payload)|
///  +-------+---+---+-------+---------------+---------------+
/// ```
public struct FrameHeader: Sendable, Hashable {
  /// `"TTAP"` as bytes.
  public static let magic: [UInt8] = [0x54, 0x54, 0x41, 0x50]
  /// Protocol version this build speaks.
  public static let version: UInt8 = 1

  public var version: UInt8
  public var type: UInt8
  public var flags: UInt16
  public var payloadLength: UInt32
  public var checksum: UInt32

  public init(version: UInt8 = FrameHeader.version, type: UInt8, flags: UInt16 = 0, payloadLength: UInt32, checksum: UInt32) {
    self.version = version
    self.type = type
    self.flags = flags
    self.payloadLength = payloadLength
    self.checksum = checksum
  }

  /// Appends the 16 header bytes.
  public func write(into bytes: inout [UInt8]) {
    bytes.append(contentsOf: Self.magic)
    bytes.append(version)
    bytes.append(type)
    bytes.append(UInt8(truncatingIfNeeded: flags))
    bytes.append(UInt8(truncatingIfNeeded: flags >> 8))
    for v in [payloadLength, checksum] {
      for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }
  }
}

/// One frame: a message type, flags and the payload bytes (checksum verified).
public struct Frame: Sendable, Hashable {
  /// Raw ``MessageType`` value (an unknown type is reported when the message is decoded).
  public var type: UInt8
  /// Reserved: senders write 0, receivers ignore.
  public var flags: UInt16
  public var payload: [UInt8]

  public init(type: UInt8, flags: UInt16 = 0, payload: [UInt8]) {
    self.type = type
    self.flags = flags
    self.payload = payload
  }

  public init(type: MessageType, payload: [UInt8]) {
    self.init(type: type.rawValue, flags: 0, payload: payload)
  }
}
