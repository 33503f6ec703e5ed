// libFuzzer target for the wire formats (built by Tools/fuzz/run.sh, not SwiftPM).
//
// The first input byte picks what is fuzzed; the rest is the data:
//   0: frame decoder, fed in chunks whose sizes come from the data, then messages
//   1: server handshake driven by the frames decoded from the data
//   2: event codec (one encoded event)
//   3: normaliser (a raw record: kind byte, then bytes)
// Any trap is a finding; every finding becomes a regression test in
// Tests/TradeTapWireTests/FuzzRegressionTests.swift.
import TradeTapEvents
import TradeTapWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let data, size > 0 else { return 0 }
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  let mode = bytes[0] % 4
  let input = Array(bytes.dropFirst())
  switch mode {
  case 0: fuzzFrameDecoder(input)
  case 1: fuzzServerHandshake(input)
  case 2: _ = try? EventCodec.decode(input)
  default: fuzzNormaliser(input)
  }
  return 0
}

func fuzzFrameDecoder(_ input: [UInt8]) {
  var decoder = FrameDecoder()
  var index = 0
  var chunk = 1
  while index < input.count {
    let end = min(input.count, index + chunk)
    decoder.append(input[index..<end])
    index = end
    chunk = Int(input[end - 1] % 64) + 1
    do {
      while let frame = try decoder.nextFrame() {
        if let message = try? Message(frame: frame) {
          // Re-encoding a decoded message must decode to the same message.
          var again = FrameDecoder()
          again.append(FrameEncoder().encode(message))
          guard let frame2 = try? again.nextFrame(), let message2 = try? Message(frame: frame2), message2 == message
          else { fatalError("re-encoded message does not round-trip: \(message)") }
        }
      }
    } catch {
      return
    }
  }
  _ = try? decoder.finish()
}

func fuzzServerHandshake(_ input: [UInt8]) {
  var decoder = FrameDecoder()
  decoder.append(input)
  var replay = NonceReplayGuard(capacity: 4)
  guard var server = try? ServerHandshake(serverNonce: [UInt8](repeating: 0xA5, count: 32)) else { return }
  let secret = Array("fuzz-secret".utf8)
  while let frame = try? decoder.nextFrame() {
    guard let message = try? Message(frame: frame) else { return }
    do {
      let step = try server.receive(message, secrets: { $0 == 7 ? secret : nil }, replayGuard: &replay)
      if case .authenticated = step {
        _ = try server.makeWelcome(lastDurableSequence: 1)
      }
    } catch {
      _ = FrameEncoder().encode(error.errorMessage)
      return
    }
  }
}

func fuzzNormaliser(_ input: [UInt8]) {
  guard let first = input.first else { return }
  let kind = RecordKind.allCases[Int(first) % RecordKind.allCases.count]
  let rest = Array(input.dropFirst())
  let size = RecordLayout.size(of: kind)
  let primary = Array(rest.prefix(size))
  let secondary = Array(rest.dropFirst(size))
  let declared = primary.count >= 4 ? UInt32(primary[0]) | UInt32(primary[1]) << 8 | UInt32(primary[2]) << 16 | UInt32(primary[3]) << 24 : 0
  let secondaryDeclared = secondary.count >= 4 ? UInt32(secondary[0]) | UInt32(secondary[1]) << 8 : 0
  let record = RawRecord(
    kind: kind, declaredSize: declared, mode: Int32(first >> 5), bytes: primary,
    secondaryDeclaredSize: secondaryDeclared, secondaryBytes: secondary)
  let event = Normaliser.normalise(record, serverId: 1, sequence: 1, utcOffsetMinutes: Int32(first) - 128)
  guard let decoded = try? EventCodec.decode(EventCodec.encode(event)), decoded == event else {
    fatalError("normalised event does not round-trip through the codec: \(event)")
  }
}
