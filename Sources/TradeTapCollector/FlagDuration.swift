/// A duration as the command line writes it (shared/spec/cli.md): `500ms`, `30s`,
/// `5m`, `1h`, a decimal fraction allowed (`1.5s`), and a bare `0`. Every command's
/// duration flag goes through here, so they all take the same texts and refuse the
/// rest with one line naming the flag.
///
/// Nanoseconds are counted in integers: `99999999999h` is refused as too long
/// instead of trapping, and `0.1s` is exactly 100 ms.
public struct FlagDuration: Sendable, Equatable, CustomStringConvertible {
  public let nanoseconds: Int64

  public var duration: Duration { .nanoseconds(nanoseconds) }
  public var seconds: Double { Double(nanoseconds) / 1e9 }
  public var description: String { "\(duration)" }

  /// Why a flag's text is not a duration; the description is the line the user sees.
  public struct Refusal: Error, Equatable, CustomStringConvertible {
    public let flag: String
    public let text: String
    public let reason: String
    public var description: String { "\(flag) \(text) \(reason)" }
  }

  static let units: [(suffix: String, nanoseconds: Int64)] = [
    ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
  ]
  static let expected = "is not a duration like 500ms, 30s or 5m"

  /// - Parameter flag: the flag the text came from (`--reconcile-every`), named in the refusal.
  /// - Throws: ``Refusal`` for junk, a number without its unit, a negative or too long duration.
  public init(_ text: String, flag: String) throws(Refusal) {
    func refuse(_ reason: String) -> Refusal { Refusal(flag: flag, text: text, reason: reason) }
    if text == "0" {
      nanoseconds = 0
      return
    }
    guard let unit = Self.units.first(where: { text.hasSuffix($0.suffix) }) else { throw refuse(Self.expected) }
    var number = Substring(text.dropLast(unit.suffix.count))
    if number.hasPrefix("-") { throw refuse("is negative: a duration is 0 or more") }
    if number.hasPrefix("+") { number = number.dropFirst() }
    let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    let whole = parts[0], fraction = parts.count > 1 ? parts[1] : ""
    let digits = whole + fraction
    guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }) else { throw refuse(Self.expected) }
    let tooLong = refuse("is too long: at most \(Int64.max / unit.nanoseconds)\(unit.suffix)")
    guard let units = whole.isEmpty ? 0 : Int64(whole) else { throw tooLong }
    let (scaled, overflow) = units.multipliedReportingOverflow(by: unit.nanoseconds)
    guard !overflow else { throw tooLong }
    // The fraction, digit by digit, below the nanosecond dropped.
    var part: Int64 = 0
    var scale = unit.nanoseconds
    for digit in fraction where scale >= 10 {
      scale /= 10
      part += Int64(digit.wholeNumberValue!) * scale
    }
    let (total, overflowed) = scaled.addingReportingOverflow(part)
    guard !overflowed else { throw tooLong }
    nanoseconds = total
  }
}
