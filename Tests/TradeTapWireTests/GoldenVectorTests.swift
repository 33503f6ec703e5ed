import Testing
import TradeTapWire

/// The exact bytes of one frame of every message type. They pin the wire format:
/// a change here breaks every deployed peer. docs/protocol.md shows the same frames.
let goldenVectors: [String: String] = [:]

@Suite struct GoldenVectorSpecification {
  @Test(arguments: sampleMessages.map(\.0))
  func encodesExactlyTheCommittedBytes(name: String) throws {
    let message = try #require(sampleMessages.first { $0.0 == name }?.1)
    let encoded = hex(FrameEncoder().encode(message))
    #expect(encoded == goldenVectors[name], "\(name): \(encoded)")
  }

  @Test(arguments: sampleMessages.map(\.0))
  func decodesTheCommittedBytes(name: String) throws {
    let message = try #require(sampleMessages.first { $0.0 == name }?.1)
    var decoder = FrameDecoder()
    decoder.append(bytes(hex: try #require(goldenVectors[name])))
    #expect(try Message(frame: try #require(try decoder.nextFrame())) == message)
    try decoder.finish()
  }
}
