import Glibc

/// `strerror` text for an errno value, with the number ("Connection refused (errno 111)").
func errnoText(_ code: Int32) -> String {
  var buffer = [CChar](repeating: 0, count: 256)
  // Swift imports the XSI strerror_r: 0 on success, text in the buffer.
  let ok = buffer.withUnsafeMutableBufferPointer { strerror_r(code, $0.baseAddress!, $0.count) } == 0
  return "\(ok ? cText(buffer) : "unknown error") (errno \(code))"
}

/// A NUL-terminated C buffer as a String.
func cText(_ buffer: [CChar]) -> String {
  let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
  return String(decoding: bytes, as: UTF8.self)
}

/// Text a peer sent, made safe for the host's log: control characters escaped (a
/// newline cannot forge a log line) and at most 200 characters kept.
func peerText(_ text: String, limit: Int = 200) -> String {
  var safe = ""
  var kept = 0
  for scalar in text.unicodeScalars {
    if kept == limit { return safe + "…" }
    if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
      safe += "\\u{\(String(scalar.value, radix: 16))}"
    } else {
      safe.unicodeScalars.append(scalar)
    }
    kept += 1
  }
  return safe
}

extension Comparable {
  func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
