/// Why bytes are not a valid frame stream. After any of these the connection is
/// unusable: send an ``ErrorMessage`` with ``errorCode`` and close.
public enum FrameDecodingError: Error, Sendable, Hashable {
  /// The first four bytes of a header are not `"TTAP"`.
  case badMagic([UInt8])
  /// A protocol version this peer does not speak.
  case unsupportedVersion(UInt8)
  /// A payload length above the limit.
  case frameTooLarge(length: UInt32, limit: Int)
  /// The payload's CRC32C differs from the header's.
  case badChecksum(expected: UInt32, actual: UInt32)
  /// The stream ended inside a frame.
  case leftoverBytesAtEOF(Int)

  /// The error code a peer sends before closing.
  public var errorCode: ErrorCode {
    switch self {
    case .badMagic, .badChecksum, .leftoverBytesAtEOF: .badFrame
    case .unsupportedVersion: .versionMismatch
    case .frameTooLarge: .frameTooLarge
    }
  }
}

/// Incremental frame decoder: append bytes as they arrive, take whole frames out.
///
/// Free of NIO and Foundation, so the plugin uses it on its socket buffer and the
/// collector wraps it in a `ByteToMessageDecoder`. The header is validated as soon
/// as its 16 bytes are in (magic, version, length limit), before the payload is
/// awaited, so an oversized or foreign stream is rejected without buffering it.
public struct FrameDecoder: Sendable {
  enum ReadState: Sendable {
    case waitingForHeader
    case waitingForPayload(header: FrameHeader)
  }

  /// Largest payload accepted; may change between frames (the collector allows a
  /// handshake-sized frame until the welcome, then the full limit).
  public var maxPayloadLength: Int
  var state = ReadState.waitingForHeader
  var buffer: [UInt8] = []
  var readIndex = 0

  public init(maxPayloadLength: Int = WireLimits.maxFramePayload) {
    self.maxPayloadLength = maxPayloadLength
  }

  /// Bytes appended but not yet returned in a frame.
  public var bufferedByteCount: Int { buffer.count - readIndex }

  /// Appends received bytes.
  public mutating func append(_ bytes: some Sequence<UInt8>) {
    compactIfWorthwhile()
    buffer.append(contentsOf: bytes)
  }

  /// Appends received bytes from raw memory (a socket read buffer).
  public mutating func append(_ bytes: UnsafeRawBufferPointer) {
    compactIfWorthwhile()
    buffer.append(contentsOf: bytes)
  }

  /// The next complete frame, or `nil` when more bytes are needed.
  /// - Throws: ``FrameDecodingError``; after a throw the decoder stays failed in
  ///   the sense that the caller must close the connection.
  public mutating func nextFrame() throws(FrameDecodingError) -> Frame? {
    while true {
      switch state {
      case .waitingForHeader:
        guard bufferedByteCount >= WireLimits.headerSize else { return nil }
        let header = try parseHeader(at: readIndex)
        readIndex += WireLimits.headerSize
        state = .waitingForPayload(header: header)
      case .waitingForPayload(let header):
        let length = Int(header.payloadLength)
        guard bufferedByteCount >= length else { return nil }
        let range = readIndex..<(readIndex + length)
        let actual = CRC32C.checksum(buffer, range: range)
        guard actual == header.checksum else {
          throw .badChecksum(expected: header.checksum, actual: actual)
        }
        let payload = Array(buffer[range])
        readIndex += length
        state = .waitingForHeader
        return Frame(type: header.type, flags: header.flags, payload: payload)
      }
    }
  }

  /// Every complete frame now buffered.
  public mutating func decodeAvailable() throws(FrameDecodingError) -> [Frame] {
    var frames: [Frame] = []
    while let frame = try nextFrame() { frames.append(frame) }
    return frames
  }

  /// Call at end of stream: leftover bytes (a frame cut short) are an error.
  public func finish() throws(FrameDecodingError) {
    let leftover: Int
    switch state {
    case .waitingForHeader: leftover = bufferedByteCount
    case .waitingForPayload: leftover = bufferedByteCount + WireLimits.headerSize
    }
    if leftover > 0 { throw .leftoverBytesAtEOF(leftover) }
  }

  func parseHeader(at i: Int) throws(FrameDecodingError) -> FrameHeader {
    let magic = Array(buffer[i..<(i + 4)])
    guard magic == FrameHeader.magic else { throw .badMagic(magic) }
    let version = buffer[i + 4]
    guard version == FrameHeader.version else { throw .unsupportedVersion(version) }
    let flags = UInt16(buffer[i + 6]) | UInt16(buffer[i + 7]) << 8
    let length = littleEndianUInt32(at: i + 8)
    guard UInt64(length) <= UInt64(max(0, maxPayloadLength)) else {
      throw .frameTooLarge(length: length, limit: maxPayloadLength)
    }
    return FrameHeader(
      version: version, type: buffer[i + 5], flags: flags, payloadLength: length,
      checksum: littleEndianUInt32(at: i + 12))
  }

  func littleEndianUInt32(at i: Int) -> UInt32 {
    UInt32(buffer[i]) | UInt32(buffer[i + 1]) << 8 | UInt32(buffer[i + 2]) << 16 | UInt32(buffer[i + 3]) << 24
  }

  /// Drops consumed bytes once they are the larger part of the buffer.
  mutating func compactIfWorthwhile() {
    if readIndex > 0, readIndex >= buffer.count / 2 {
      buffer.removeSubrange(0..<readIndex)
      readIndex = 0
    }
  }
}
