import Glibc
import CTradeTapTLS

/// Handshake nonces and backoff jitter from the kernel's CSPRNG (`getrandom`).
public struct KernelRandom: RandomNumberGenerator, Sendable {
  public init() {}

  /// Fresh random bytes for a handshake nonce.
  /// - Returns: nil only if the kernel refuses (never seen after boot).
  public static func bytes(count: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: count)
    let ok = out.withUnsafeMutableBytes { tt_random_bytes($0.baseAddress, $0.count) == 0 }
    return ok ? out : nil
  }

  public mutating func next() -> UInt64 {
    var value: UInt64 = 0
    if withUnsafeMutableBytes(of: &value, { tt_random_bytes($0.baseAddress, 8) }) != 0 {
      // getrandom cannot fail after boot; fall back to the clock rather than trap.
      var ts = timespec()
      clock_gettime(CLOCK_MONOTONIC, &ts)
      value = UInt64(truncatingIfNeeded: ts.tv_nsec) &* 0x9E37_79B9_7F4A_7C15
    }
    return value
  }
}
