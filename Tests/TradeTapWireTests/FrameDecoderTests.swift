import Testing
import TradeTapEvents
import TradeTapWire

@Suite struct FrameDecoderSpecification {
  let encoder = FrameEncoder()
  var stream: [UInt8] { sampleMessages.flatMap { encoder.encode($0.1) } }

  func decodeAll(_ chunks: [[UInt8]]) throws -> [Message] {
    var decoder = FrameDecoder()
    var messages: [Message] = []
    for chunk in chunks {
      decoder.append(chunk)
      while let frame = try decoder.nextFrame() { messages.append(try Message(frame: frame)) }
    }
    try decoder.finish()
    return messages
  }

  @Test func decodesAStreamFedByteByByte() throws {
    #expect(try decodeAll(stream.map { [$0] }) == sampleMessages.map(\.1))
  }

  @Test func decodesAStreamFedWhole() throws {
    #expect(try decodeAll([stream]) == sampleMessages.map(\.1))
  }

  @Test func decodesAStreamFedInUnevenChunksWithManyFramesPerRead() throws {
    let s = stream
    for size in [2, 7, 15, 16, 17, 100, 333] {
      let chunks = stride(from: 0, to: s.count, by: size).map { Array(s[$0..<min($0 + size, s.count)]) }
      #expect(try decodeAll(chunks) == sampleMessages.map(\.1))
    }
  }

  @Test func decodesAnEmptyPayloadFrame() throws {
    var decoder = FrameDecoder()
    decoder.append(encoder.encode(frame: Frame(type: 200, payload: [])))
    let frame = try decoder.nextFrame()
    #expect(frame == Frame(type: 200, payload: []))
    #expect(throws: MessageDecodingError.unknownType(200)) { try Message(frame: frame!) }
  }

  @Test func rejectsBadMagic() {
    var bytes = encoder.encode(.ack(Ack(throughSequence: 1)))
    bytes[0] = 0x48
    var decoder = FrameDecoder()
    decoder.append(bytes)
    #expect(throws: FrameDecodingError.badMagic([0x48, 0x54, 0x41, 0x50])) { try decoder.nextFrame() }
  }

  @Test func rejectsABadChecksum() {
    var bytes = encoder.encode(.ack(Ack(throughSequence: 1)))
    bytes[bytes.count - 1] ^= 0x01
    var decoder = FrameDecoder()
    decoder.append(bytes)
    #expect {
      try decoder.nextFrame()
    } throws: { error in
      guard case .badChecksum = error as? FrameDecodingError else { return false }
      return (error as! FrameDecodingError).errorCode == .badFrame
    }
  }

  @Test func rejectsAnOversizedLengthBeforeItsPayloadArrives() {
    var header: [UInt8] = []
    FrameHeader(type: MessageType.eventBatch.rawValue, payloadLength: UInt32(WireLimits.maxFramePayload + 1), checksum: 0)
      .write(into: &header)
    var decoder = FrameDecoder()
    decoder.append(header)
    #expect(throws: FrameDecodingError.frameTooLarge(length: UInt32(WireLimits.maxFramePayload + 1), limit: WireLimits.maxFramePayload)) {
      try decoder.nextFrame()
    }
    #expect(FrameDecodingError.frameTooLarge(length: 0, limit: 0).errorCode == .frameTooLarge)
  }

  @Test func acceptsAFrameOfExactlyTheLimit() throws {
    let payload = [UInt8](repeating: 0x5A, count: WireLimits.maxFramePayload)
    var decoder = FrameDecoder()
    decoder.append(encoder.encode(frame: Frame(type: 7, payload: payload)))
    #expect(try decoder.nextFrame()?.payload == payload)
  }

  @Test func reportsATruncatedPayloadAtEndOfStream() throws {
    let bytes = encoder.encode(.ack(Ack(throughSequence: 1)))
    var decoder = FrameDecoder()
    decoder.append(bytes.dropLast(3))
    #expect(try decoder.nextFrame() == nil)
    #expect(throws: FrameDecodingError.leftoverBytesAtEOF(bytes.count - 3)) { try decoder.finish() }
  }

  @Test func reportsAPartialHeaderAtEndOfStream() throws {
    var decoder = FrameDecoder()
    decoder.append([0x54, 0x54, 0x41])
    #expect(try decoder.nextFrame() == nil)
    #expect(throws: FrameDecodingError.leftoverBytesAtEOF(3)) { try decoder.finish() }
  }

  @Test func rejectsAnotherProtocolVersionWithVersionMismatch() {
    var bytes = encoder.encode(.hello(Hello(serverId: 1, clientNonce: sequentialNonce, software: "")))
    bytes[4] = 2
    var decoder = FrameDecoder()
    decoder.append(bytes)
    #expect(throws: FrameDecodingError.unsupportedVersion(2)) { try decoder.nextFrame() }
    #expect(FrameDecodingError.unsupportedVersion(2).errorCode == .versionMismatch)
  }

  @Test func neverTrapsOnGarbageStreams() {
    var rng = SplitMix64(seed: 5)
    let valid = stream
    for round in 0..<3_000 {
      var bytes = valid
      if round % 3 == 0 {
        bytes = (0..<Int(rng.next() % 2000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      } else {
        for _ in 0..<(1 + Int(rng.next() % 8)) {
          bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
        }
      }
      var decoder = FrameDecoder()
      decoder.append(bytes)
      while let frame = try? decoder.nextFrame() { _ = try? Message(frame: frame) }
      _ = try? decoder.finish()
    }
  }
}

/// Deterministic random numbers for property tests.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
