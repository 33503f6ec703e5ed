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
