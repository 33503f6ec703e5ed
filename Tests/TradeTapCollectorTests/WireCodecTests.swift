import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapWire

@Suite("Collector codec: frames in any split become the same messages")
struct WireCodecTests {
  static let messages: [Message] = [
    .hello(Hello(serverId: 7, clientNonce: .init(repeating: 3, count: 32), software: "test")),
    .eventBatch(EventBatch(firstSequence: 1, events: (1...3).map { EventFactory.deal(seq: $0, serverId: 7) })),
    .heartbeat(Heartbeat(timestampNanos: 99)),
    .gapNotice(GapNotice(firstSequence: 4, count: 2, reason: .overflow)),
  ]

  @Test func decodesByteByByteWholeAndManyPerRead() throws {
    let pairs = Self.messages.map { message in
      (ByteBuffer(bytes: FrameEncoder().encode(message)), [message])
    }
    try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { WireMessageDecoder() }
  }

  @Test func encoderAndDecoderRoundTripOnAChannel() throws {
    let channel = EmbeddedChannel()
    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireMessageDecoder()))
    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(WireMessageEncoder()))
    for message in Self.messages {
      try channel.writeOutbound(message)
      let bytes = try #require(try channel.readOutbound(as: ByteBuffer.self))
      try channel.writeInbound(bytes)
      #expect(try channel.readInbound(as: Message.self) == message)
    }
    #expect(try channel.finish().isClean)
  }

  @Test func aFrameCutShortAtEndOfStreamIsAnError() throws {
    let channel = EmbeddedChannel()
    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireMessageDecoder()))
    let frame = FrameEncoder().encode(.heartbeat(Heartbeat(timestampNanos: 1)))
    try channel.writeInbound(ByteBuffer(bytes: frame.dropLast(3)))
    #expect(throws: FrameDecodingError.self) { try channel.finish() }
  }

  @Test func aCorruptedChecksumIsAnError() throws {
    let channel = EmbeddedChannel()
    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireMessageDecoder()))
    var frame = FrameEncoder().encode(.heartbeat(Heartbeat(timestampNanos: 1)))
    frame[frame.count - 1] ^= 0xFF
    #expect(throws: FrameDecodingError.self) { try channel.writeInbound(ByteBuffer(bytes: frame)) }
  }
}
