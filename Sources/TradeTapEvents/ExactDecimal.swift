/// An exact decimal number: `mantissa × 10^-scale`.
///
/// Money and prices arrive from the platform as `double`; TradeTap rounds them once,
/// at the edge, to the record's own number of decimals (`currency_digits` for money,
/// `digits` for prices) and never stores binary floating point afterwards.
///
/// Equality and ordering compare the numeric value (`1.5 == 1.50`); ``description``
/// keeps the scale (`"1.50"`), so a ledger shows exactly the platform's decimals.
public struct ExactDecimal: Sendable {
  /// The integer digits, sign included.
  public var mantissa: Int64
  /// Number of decimals, `0 ... ExactDecimal.maxScale`.
  public var scale: UInt8

  /// The largest scale: 10^18 is the largest power of ten an `Int64` holds.
  public static let maxScale: UInt8 = 18

  /// Zero with no decimals.
  public static let zero = ExactDecimal(uncheckedMantissa: 0, scale: 0)

  /// Creates a decimal from its parts; `nil` when `scale` exceeds ``maxScale``.
  public init?(mantissa: Int64, scale: UInt8) {
    guard scale <= Self.maxScale else { return nil }
    self.mantissa = mantissa
    self.scale = scale
  }

  @usableFromInline
  init(uncheckedMantissa: Int64, scale: UInt8) {
    self.mantissa = uncheckedMantissa
    self.scale = scale
  }

  /// Rounds a platform double to `digits` decimals the way the platforms do
  /// (`NormalizeDouble`): `value × 10^digits`, rounded half away from zero.
  ///
  /// - Parameters:
  ///   - double: the platform's value.
  ///   - digits: decimals to keep, `0 ... 18`.
  /// - Returns: `nil` for NaN, ±infinity, a `digits` above 18, or a result whose
  ///   mantissa does not fit in an `Int64`.
  public init?(double: Double, digits: Int) {
    guard double.isFinite, digits >= 0, digits <= Int(Self.maxScale) else { return nil }
    let scaled = (double * powerOfTenDouble[digits]).rounded(.toNearestOrAwayFromZero)
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    guard scaled.isFinite, scaled > -9_223_372_036_854_775_808.0, scaled < 9_223_372_036_854_775_808.0
    else { return nil }
    self.mantissa = Int64(scaled)
    self.scale = UInt8(digits)
  }

  /// Parses `-12.30`, `+5`, `0.001`. The scale is the number of decimals written.
  /// Returns `nil` for anything else (exponents, spaces, empty parts, overflow,
  /// more than 18 decimals).
  public init?(_ text: some StringProtocol) {
    var utf8 = Array(text.utf8)[...]
    var negative = false
    if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
      negative = first == UInt8(ascii: "-")
      utf8 = utf8.dropFirst()
    }
    guard !utf8.isEmpty else { return nil }
    var magnitude: UInt64 = 0
    var scale = 0
    var seenPoint = false
    var integerDigits = 0
    for byte in utf8 {
      if byte == UInt8(ascii: ".") {
        guard !seenPoint else { return nil }
        seenPoint = true
        continue
      }
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
      guard !o1, !o2 else { return nil }
      magnitude = sum
      if seenPoint { scale += 1 } else { integerDigits += 1 }
    }
    guard integerDigits > 0, !seenPoint || scale > 0, scale <= Int(Self.maxScale) else { return nil }
    if negative {
      guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
      self.mantissa = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
    } else {
      guard magnitude <= UInt64(Int64.max) else { return nil }
      self.mantissa = Int64(magnitude)
    }
    self.scale = UInt8(scale)
  }

  /// The nearest double, for display and arithmetic outside the ledger only.
  public var doubleValue: Double {
    Double(mantissa) / powerOfTenDouble[Int(scale)]
  }

  /// The same value with `newScale` decimals; `nil` if it would lose digits or overflow.
  public func rescaled(to newScale: UInt8) -> ExactDecimal? {
    guard newScale <= Self.maxScale else { return nil }
    if newScale == scale { return self }
    if newScale > scale {
      let (m, overflow) = mantissa.multipliedReportingOverflow(by: powerOfTen[Int(newScale - scale)])
      return overflow ? nil : ExactDecimal(uncheckedMantissa: m, scale: newScale)
    }
    let divisor = powerOfTen[Int(scale - newScale)]
    guard mantissa % divisor == 0 else { return nil }
    return ExactDecimal(uncheckedMantissa: mantissa / divisor, scale: newScale)
  }

  /// The same value without trailing zero decimals (`1.2500` → `1.25`, `3.00` → `3`).
  public func trimmed() -> ExactDecimal {
    var result = self
    while result.scale > 0, result.mantissa % 10 == 0 {
      result.mantissa /= 10
      result.scale -= 1
    }
    return result
  }

  /// Exact sum at the larger of the two scales; `nil` on overflow.
  public func adding(_ other: ExactDecimal) -> ExactDecimal? {
    let s = max(scale, other.scale)
    guard let a = rescaled(to: s), let b = other.rescaled(to: s) else { return nil }
    let (m, overflow) = a.mantissa.addingReportingOverflow(b.mantissa)
    return overflow ? nil : ExactDecimal(uncheckedMantissa: m, scale: s)
  }

  /// Exact difference at the larger of the two scales; `nil` on overflow.
  public func subtracting(_ other: ExactDecimal) -> ExactDecimal? {
    guard other.mantissa != .min else { return nil }
    return adding(ExactDecimal(uncheckedMantissa: -other.mantissa, scale: other.scale))
  }

  /// `true` below zero.
  public var isNegative: Bool { mantissa < 0 }
  /// `true` for any zero (`0`, `0.00`).
  public var isZero: Bool { mantissa == 0 }
}

extension ExactDecimal: CustomStringConvertible {
  /// The exact value with exactly ``scale`` decimals: `"-12.30"`, `"0.05"`, `"7"`.
  public var description: String {
    let negative = mantissa < 0
    let magnitude = mantissa.magnitude
    var digits = String(magnitude)
    let s = Int(scale)
    if s > 0 {
      if digits.count <= s {
        digits = String(repeating: "0", count: s - digits.count + 1) + digits
      }
      digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -s))
    }
    return negative ? "-" + digits : digits
  }
}

extension ExactDecimal: Comparable, Hashable {
  public static func == (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
    compare(lhs, rhs) == 0
  }

  public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
    compare(lhs, rhs) < 0
  }

  public func hash(into hasher: inout Hasher) {
    let t = trimmed()
    hasher.combine(t.mantissa)
    hasher.combine(t.scale)
  }

  /// Compares exactly, without overflow: integer parts first, then the fractions.
  static func compare(_ a: ExactDecimal, _ b: ExactDecimal) -> Int {
    if a.scale == b.scale { return a.mantissa < b.mantissa ? -1 : (a.mantissa == b.mantissa ? 0 : 1) }
    let s = max(a.scale, b.scale)
    if let x = a.rescaled(to: s), let y = b.rescaled(to: s) {
      return x.mantissa < y.mantissa ? -1 : (x.mantissa == y.mantissa ? 0 : 1)
    }
    // Rescaling overflowed: compare in 128-bit-like fashion via quotient/remainder.
    let da = powerOfTen[Int(a.scale)], db = powerOfTen[Int(b.scale)]
    let (qa, ra) = a.mantissa.quotientAndRemainder(dividingBy: da)
    let (qb, rb) = b.mantissa.quotientAndRemainder(dividingBy: db)
    if qa != qb { return qa < qb ? -1 : 1 }
    // Same integer part; fractions have the same sign as their mantissas (or zero).
    let fa = ExactDecimal(uncheckedMantissa: ra, scale: a.scale).rescaled(to: s)!.mantissa
    let fb = ExactDecimal(uncheckedMantissa: rb, scale: b.scale).rescaled(to: s)!.mantissa
    return fa < fb ? -1 : (fa == fb ? 0 : 1)
  }
}

/// 10^0 ... 10^18 as integers.
@usableFromInline
let powerOfTen: [Int64] = {
  var table: [Int64] = [1]
  for _ in 1...18 { table.append(table.last! * 10) }
  return table
}()

/// 10^0 ... 10^18 as doubles (each exact).
@usableFromInline
let powerOfTenDouble: [Double] = powerOfTen.map { Double($0) }
