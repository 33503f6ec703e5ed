/// The platforms keep money in `double` and round every amount they compute to the
/// account currency's digits (MQL's `NormalizeDouble`). The simulator keeps money as
/// integer minor units (cents for USD), so every amount it reports is exactly the
/// double the platform would hold, and its decimal text is exact.
public enum Money {
  /// Powers of ten for 0...10 digits, exact in `Double` and `Int64`.
  static let doublePowers: [Double] = (0...10).map { d in (0..<d).reduce(1.0) { a, _ in a * 10 } }
  static let integerPowers: [Int64] = (0...10).map { d in (0..<d).reduce(Int64(1)) { a, _ in a * 10 } }

  /// Rounds a computed amount to `digits` decimals the way the platform does:
  /// half away from zero, where a value within 1e-7 of the half counts as the half
  /// (the platforms' comparison tolerance, so that `1.005` rounds to `1.01` although
  /// its binary value lies just below).
  /// - Returns: the amount in minor units (`value × 10^digits`).
  public static func minorUnits(_ value: Double, digits: Int) -> Int64 {
    let scaled = value * doublePowers[digits]
    let truncated = scaled.rounded(.towardZero)
    let fraction = (scaled - truncated).magnitude
    let away: Double = fraction >= 0.5 - 1e-7 ? 1 : 0
    return Int64(truncated + (scaled < 0 ? -away : away))
  }

  /// The double the platform holds for an amount of minor units.
  public static func double(_ minor: Int64, digits: Int) -> Double {
    Double(minor) / doublePowers[digits]
  }

  /// Exact decimal text of an amount of minor units: `decimalString(-5, digits: 2)` is `-0.05`.
  public static func decimalString(_ minor: Int64, digits: Int) -> String {
    let negative = minor < 0
    let magnitude = minor.magnitude
    guard digits > 0 else { return (negative ? "-" : "") + String(magnitude) }
    let power = UInt64(integerPowers[digits])
    var fraction = String(magnitude % power)
    fraction = String(repeating: "0", count: digits - fraction.count) + fraction
    return (negative ? "-" : "") + String(magnitude / power) + "." + fraction
  }

  /// Parses decimal text (`"-12.5"`, `"100"`) into minor units; `nil` when it is not a
  /// plain decimal or has more than `digits` decimals.
  public static func parse(_ text: String, digits: Int) -> Int64? {
    var body = Substring(text)
    var negative = false
    if body.first == "-" { negative = true; body = body.dropFirst() } else if body.first == "+" { body = body.dropFirst() }
    let parts = body.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let whole = parts.first, !whole.isEmpty || parts.count == 2,
      whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber)
    else { return nil }
    let fractionText = parts.count == 2 ? parts[1] : ""
    guard fractionText.count <= digits, fractionText.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    guard let wholeValue = whole.isEmpty ? 0 : Int64(whole) else { return nil }
    let padded = fractionText + String(repeating: "0", count: digits - fractionText.count)
    let fractionValue = padded.isEmpty ? 0 : Int64(padded) ?? 0
    let value = wholeValue * integerPowers[digits] + fractionValue
    return negative ? -value : value
  }
}

/// Volumes: MT5 `VolumeExt` is 1/100,000,000 lot; MT4 `volume` is lots × 100.
public enum Volume {
  /// One lot in `VolumeExt` units.
  public static let lot: UInt64 = 100_000_000
  /// The smallest step the simulator trades (0.01 lot).
  public static let step: UInt64 = 1_000_000
  /// Lots as the platform's double.
  public static func lots(_ volumeExt: UInt64) -> Double { Double(volumeExt) / 1e8 }
  /// Parses `"1.25"` lots into `VolumeExt`.
  public static func parseLots(_ text: String) -> UInt64? {
    guard let v = Money.parse(text, digits: 8), v > 0 else { return nil }
    return UInt64(v)
  }
  /// Decimal text of a `VolumeExt` in lots, trailing zeros kept to two decimals.
  public static func lotsString(_ volumeExt: UInt64) -> String {
    var text = Money.decimalString(Int64(volumeExt), digits: 8)
    while text.hasSuffix("0"), let dot = text.firstIndex(of: "."), text.distance(from: dot, to: text.endIndex) > 3 {
      text.removeLast()
    }
    return text
  }
}

/// Text fields as the platform stores them: fixed char arrays (MT5 comments 63
/// bytes, MT4 comments 31), so a longer text is cut at a character boundary when
/// the record is made, and the state the server reports is what the hook carried.
public enum PlatformText {
  public static let mt5Comment = 63
  public static let mt4Comment = 31

  public static func fit(_ text: String, bytes: Int) -> String {
    guard text.utf8.count > bytes else { return text }
    var result = ""
    for character in text {
      guard result.utf8.count + character.utf8.count <= bytes else { break }
      result.append(character)
    }
    return result
  }
}
