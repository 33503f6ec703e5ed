import Testing
import Glibc
import TradeTapEvents
import TradeTapWire

/// Replays the fuzzer's committed inputs (Tools/fuzz/corpus, and every finding
/// copied to Tools/fuzz/regressions) through the same entry points the fuzz target
/// drives, so a fixed crash stays fixed in the ordinary test run.
@Suite struct FuzzCorpusReplaySpecification {
  static let fuzzFolder: String = {
    var path = "\(#filePath)"
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path + "/Tools/fuzz"
  }()

  static func files(in folder: String) -> [String] {
    guard let dir = opendir(folder) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      if !name.hasPrefix(".") { names.append(folder + "/" + name) }
    }
    return names.sorted()
  }

  static func read(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = fread(&buffer, 1, buffer.count, file)
      if n <= 0 { break }
      bytes.append(contentsOf: buffer[..<n])
    }
    return bytes
  }

  @Test func theSeedCorpusIsPresent() {
    #expect(Self.files(in: Self.fuzzFolder + "/corpus").count >= 20)
  }

  @Test func everyCommittedInputDecodesWithoutTrapping() throws {
    let inputs = Self.files(in: Self.fuzzFolder + "/corpus") + Self.files(in: Self.fuzzFolder + "/regressions")
    for path in inputs {
      let bytes = try #require(Self.read(path), "\(path)")
      guard let mode = bytes.first else { continue }
      let input = Array(bytes.dropFirst())
      switch mode % 4 {
      case 0, 1:
        var decoder = FrameDecoder()
        decoder.append(input)
        var replay = NonceReplayGuard()
        var server = try ServerHandshake(serverNonce: [UInt8](repeating: 0xA5, count: 32))
        while let frame = try? decoder.nextFrame() {
          guard let message = try? Message(frame: frame) else { break }
          // Every decoded message re-encodes to a frame that decodes to it again.
          #expect(try Message(frame: message.frame) == message, "\(path)")
          _ = try? server.receive(message, secrets: { $0 == 7 ? [1] : nil }, replayGuard: &replay)
        }
      case 2:
        if let event = try? EventCodec.decode(input) {
          #expect(try EventCodec.decode(EventCodec.encode(event)) == event, "\(path)")
        }
      default:
        guard let first = input.first else { continue }
        let kind = RecordKind.allCases[Int(first) % RecordKind.allCases.count]
        let rest = Array(input.dropFirst())
        let size = RecordLayout.size(of: kind)
        let record = RawRecord(
          kind: kind, declaredSize: UInt32(min(rest.count, size)), mode: Int32(first >> 5),
          bytes: Array(rest.prefix(size)), secondaryBytes: Array(rest.dropFirst(size)))
        let event = Normaliser.normalise(record, serverId: 1, sequence: 1, utcOffsetMinutes: Int32(first) - 128)
        #expect(try EventCodec.decode(EventCodec.encode(event)) == event, "\(path)")
      }
    }
  }
}
