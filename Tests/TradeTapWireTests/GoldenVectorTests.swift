import Testing
import TradeTapWire

/// The exact bytes of one frame of every message type. They pin the wire format:
/// a change here breaks every deployed peer. docs/protocol.md shows the same frames.
let goldenVectors: [String: String] = [
  "hello":
    "5454415001010000280000008780f3c707000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b" +
    "1c1d1e1f02007474",
  "helloWithServer":
    "545441500101000035000000b4a366a607000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b" +
    "1c1d1e1f0200747406004c69766520310578000000",
  "challenge":
    "545441500102000020000000a235f64ca0a1a2a3a4a5a6a7a8a9aaabacadaeafa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
  "authenticate":
    "54544150010300002000000067735439f0efeeedecebeae9e8e7e6e5e4e3e2e1e0dfdedddcdbdad9d8d7d6d5d4d3d2d1",
  "welcome":
    "54544150010400002c0000000b410e31f0efeeedecebeae9e8e7e6e5e4e3e2e1e0dfdedddcdbdad9d8d7d6d5d4d3d2d1" +
    "290000000000000088130000",
  "eventBatch":
    "5454415001050000b2000000deb7540e2a0000000000000001000000a2000000010100070000002a0000000000000012" +
    "040000000000007800000001120400000000000000008913000000000000d107000000000000d1070000000000000000" +
    "00000000000000000000060045555255534405000000020000007b68e5cf8b01000039a70100000000000500e1f50500" +
    "000000a0860100000000000032fbffffffffffff02a2feffffffffffff02000000000000000002000000000000000002" +
    "0000",
  "ack":
    "54544150010600000800000087296b512a00000000000000",
  "heartbeat":
    "5454415001070000080000001c02f9260807060504030201",
  "gapNotice":
    "5454415001080000110000000b36080c2b00000000000000020000000000000001",
  "snapshotRequest":
    "54544150010900001e00000086ad4535090000000300000000000000000068e5cf8b01000000c40bd58b01000000",
  "snapshotChunk":
    "54544150010a00007a000000f90d3cf40900000000000000010001000000680000000128000700000000000000000000" +
    "0000000000000000007800000005891300000000000004007265616c0300416e6e000000000300555344020000006400" +
    "00000200000077420f00000000000250c3000000000000027b68e5cf8b0100007b68e5cf8b0100000000",
  "error":
    "54544150010b000010000000b4ec32b001000c0077726f6e6720736563726574",
]

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
