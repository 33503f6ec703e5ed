import TradeTapEvents

/// Writes frames: header (with the payload's CRC32C) followed by the payload.
public struct FrameEncoder: Sendable {
  public init() {}

  /// The complete frame bytes for `message`.
  public func encode(_ message: Message) -> [UInt8] {
    encode(frame: message.frame)
  }

  /// The complete bytes for `frame`. A payload above ``WireLimits/maxFramePayload``
  /// is still written; the peer will reject it (use ``EventBatchBuilder`` to stay under).
  public func encode(frame: Frame) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(WireLimits.headerSize + frame.payload.count)
    FrameHeader(
      type: frame.type, flags: frame.flags, payloadLength: UInt32(truncatingIfNeeded: frame.payload.count),
      checksum: CRC32C.checksum(frame.payload)
    ).write(into: &bytes)
    bytes.append(contentsOf: frame.payload)
    return bytes
  }

  /// Appends the complete bytes for `message` to `buffer` (a socket write buffer).
  public func encode(_ message: Message, into buffer: inout [UInt8]) {
    buffer.append(contentsOf: encode(message))
  }
}

/// Builds one event-batch frame incrementally, staying within the limits: the
/// sender appends events until ``append(_:)`` says the next one does not fit.
public struct EventBatchBuilder: Sendable {
  /// Header (16) + first sequence (8) + count (4).
  static let prefixSize = WireLimits.headerSize + 12
  public let firstSequence: UInt64
  public let maxPayload: Int
  public let maxEvents: Int
  /// Events appended so far.
  public private(set) var count = 0
  var writer: BinaryWriter

  public init(
    firstSequence: UInt64, maxPayload: Int = WireLimits.maxFramePayload,
    maxEvents: Int = WireLimits.maxEventsPerBatch
  ) {
    self.firstSequence = firstSequence
    self.maxPayload = min(maxPayload, WireLimits.maxFramePayload)
    self.maxEvents = min(maxEvents, WireLimits.maxEventsPerBatch)
    writer = BinaryWriter(capacity: 64 * 1024)
    writer.write(raw: repeatElement(UInt8(0), count: Self.prefixSize))
  }

  /// The sequence number the next event must carry.
  public var nextSequence: UInt64 { firstSequence &+ UInt64(count) }

  /// Payload bytes so far.
  public var payloadSize: Int { writer.bytes.count - WireLimits.headerSize }

  /// Appends `event` if it fits and carries ``nextSequence``.
  /// - Returns: `false` (and appends nothing) when the batch is full, the event
  ///   would push the payload over the limit, or its sequence is not the next one.
  public mutating func append(_ event: Event) -> Bool {
    guard count < maxEvents, event.sequence == nextSequence else { return false }
    let mark = writer.bytes.count
    writeEvent(event, &writer)
    if writer.bytes.count - WireLimits.headerSize > maxPayload {
      writer.bytes.removeSubrange(mark...)
      return false
    }
    count += 1
    return true
  }

  /// The finished frame (header, first sequence, count, events).
  public func finishFrame() -> [UInt8] {
    var bytes = writer.bytes
    var prefix: [UInt8] = []
    FrameHeader(
      type: MessageType.eventBatch.rawValue, payloadLength: UInt32(payloadSize),
      checksum: 0
    ).write(into: &prefix)
    var w = BinaryWriter(capacity: 12)
    w.write(firstSequence)
    w.write(UInt32(count))
    prefix.append(contentsOf: w.bytes)
    bytes.replaceSubrange(0..<Self.prefixSize, with: prefix)
    let crc = CRC32C.checksum(bytes, range: WireLimits.headerSize..<bytes.count)
    for i in 0..<4 { bytes[12 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    return bytes
  }
}

/// Builds one snapshot-chunk frame incrementally within the limits, like
/// ``EventBatchBuilder``: append records until ``append(_:)`` returns `false`,
/// then finish this chunk and start the next with `chunkIndex + 1`.
public struct SnapshotChunkBuilder: Sendable {
  /// Header (16) + request id (4) + chunk index (4) + final (1) + status (1) + count (4).
  static let prefixSize = WireLimits.headerSize + 14
  public let requestId: UInt32
  public let chunkIndex: UInt32
  public let maxPayload: Int
  public let maxRecords: Int
  /// Records appended so far.
  public private(set) var count = 0
  var writer: BinaryWriter

  public init(
    requestId: UInt32, chunkIndex: UInt32, maxPayload: Int = WireLimits.maxFramePayload,
    maxRecords: Int = WireLimits.maxEventsPerBatch
  ) {
    self.requestId = requestId
    self.chunkIndex = chunkIndex
    self.maxPayload = min(maxPayload, WireLimits.maxFramePayload)
    self.maxRecords = min(maxRecords, WireLimits.maxEventsPerBatch)
    writer = BinaryWriter(capacity: 64 * 1024)
    writer.write(raw: repeatElement(UInt8(0), count: Self.prefixSize))
  }

  /// Payload bytes so far.
  public var payloadSize: Int { writer.bytes.count - WireLimits.headerSize }

  /// Appends `record` if it fits; `false` (nothing appended) when the chunk is full.
  public mutating func append(_ record: Event) -> Bool {
    guard count < maxRecords else { return false }
    let mark = writer.bytes.count
    writeEvent(record, &writer)
    if writer.bytes.count - WireLimits.headerSize > maxPayload {
      writer.bytes.removeSubrange(mark...)
      return false
    }
    count += 1
    return true
  }

  /// The finished frame; `hostResult` is written only with ``SnapshotStatus/hostError``.
  public func finishFrame(isFinal: Bool, status: SnapshotStatus = .ok, hostResult: Int32 = 0) -> [UInt8] {
    var bytes = writer.bytes
    if status == .hostError {
      var result = BinaryWriter(capacity: 4)
      result.write(hostResult)
      bytes.append(contentsOf: result.bytes)
    }
    var prefix: [UInt8] = []
    FrameHeader(
      type: MessageType.snapshotChunk.rawValue, payloadLength: UInt32(bytes.count - WireLimits.headerSize), checksum: 0)
      .write(into: &prefix)
    var w = BinaryWriter(capacity: 14)
    w.write(requestId); w.write(chunkIndex); w.write(isFinal); w.write(status.rawValue); w.write(UInt32(count))
    prefix.append(contentsOf: w.bytes)
    bytes.replaceSubrange(0..<Self.prefixSize, with: prefix)
    let crc = CRC32C.checksum(bytes, range: WireLimits.headerSize..<bytes.count)
    for i in 0..<4 { bytes[12 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    return bytes
  }
}
