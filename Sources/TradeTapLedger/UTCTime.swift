/// Formats instants as the ledger's UTC text: ISO-8601 with milliseconds and `Z`
/// (`2026-11-25T20:15:00.123Z`). Sorts as text in time order, and SQLite's own
/// date functions read it. Pure arithmetic: no Foundation formatter on the write path.
public enum UTCTime {
  /// The UTC text of an instant given in milliseconds since the Unix epoch.
  /// - Parameter millisecondsSinceEpoch: UTC milliseconds.
  /// - Returns: `YYYY-MM-DDTHH:MM:SS.sssZ`.
  public static func text(millisecondsSinceEpoch ms: Int64) -> String {
    guard fitsFixedWidth(millisecondsSinceEpoch: ms) else {
      let days = floorDiv(ms, 86_400_000)
      let (y, m, d) = civil(daysSinceEpoch: days)
      return slowText(y, m, d, ms - days * 86_400_000)
    }
    // Fixed width: written straight into the string's storage (the write path's hot loop).
    return String(unsafeUninitializedCapacity: fixedWidth) { b in
      write(millisecondsSinceEpoch: ms, into: b.baseAddress!)
      return fixedWidth
    }
  }

  /// Bytes of the fixed-width text (`YYYY-MM-DDTHH:MM:SS.sssZ`).
  static let fixedWidth = 24

  /// Whether the instant's year is 0...9999, so ``write(millisecondsSinceEpoch:into:)`` applies.
  static func fitsFixedWidth(millisecondsSinceEpoch ms: Int64) -> Bool {
    // 0000-01-01T00:00:00.000Z ... 9999-12-31T23:59:59.999Z
    ms >= -62_167_219_200_000 && ms < 253_402_300_800_000
  }

  /// Writes the fixed-width text (``fixedWidth`` bytes) of an instant whose year is 0...9999.
  static func write(millisecondsSinceEpoch ms: Int64, into b: UnsafeMutablePointer<UInt8>) {
    let days = floorDiv(ms, 86_400_000)
    let msOfDay = ms - days * 86_400_000
    let (y, m, d) = civil(daysSinceEpoch: days)
    func put(_ value: Int64, _ at: Int, _ width: Int) {
      var v = value
      for i in stride(from: at + width - 1, through: at, by: -1) {
        b[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
        v /= 10
      }
    }
    put(y, 0, 4); b[4] = UInt8(ascii: "-"); put(m, 5, 2); b[7] = UInt8(ascii: "-"); put(d, 8, 2)
    b[10] = UInt8(ascii: "T"); put(msOfDay / 3_600_000, 11, 2); b[13] = UInt8(ascii: ":")
    put((msOfDay / 60_000) % 60, 14, 2); b[16] = UInt8(ascii: ":"); put((msOfDay / 1000) % 60, 17, 2)
    b[19] = UInt8(ascii: "."); put(msOfDay % 1000, 20, 3); b[23] = UInt8(ascii: "Z")
  }

  /// Years outside 0...9999 (absurd platform times): correct, not fast.
  private static func slowText(_ y: Int64, _ m: Int64, _ d: Int64, _ msOfDay: Int64) -> String {
    let h = msOfDay / 3_600_000
    let mi = (msOfDay / 60_000) % 60
    let s = (msOfDay / 1000) % 60
    let milli = msOfDay % 1000
    return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(milli, 3))Z"
  }

  /// The UTC text of a broker-time instant.
  /// - Parameters:
  ///   - brokerMilliseconds: the trade server's local clock, in milliseconds.
  ///   - utcOffsetMinutes: the server's offset from UTC (`utc = broker - offset`).
  public static func text(brokerMilliseconds: Int64, utcOffsetMinutes: Int32) -> String {
    text(millisecondsSinceEpoch: brokerMilliseconds - Int64(utcOffsetMinutes) * 60_000)
  }

  /// Now, as ledger UTC text.
  public static func now() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return text(millisecondsSinceEpoch: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
  }

  // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
  private static func civil(daysSinceEpoch z0: Int64) -> (Int64, Int64, Int64) {
    let z = z0 + 719_468
    let era = floorDiv(z, 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
  }

  private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
  }

  private static func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value < 0 ? -value : value)
    let padded = digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    return value < 0 ? "-" + padded : padded
  }
}

#if canImport(Glibc)
import Glibc
#endif
