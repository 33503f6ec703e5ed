import Testing
import TradeTapEvents

@Suite struct ExactDecimalSpecification {
  @Test func roundsHalfAwayFromZeroAtTheRequestedDigits() {
    #expect(ExactDecimal(double: 0.125, digits: 2)?.description == "0.13")  // 0.125 is exact in binary
    #expect(ExactDecimal(double: -0.125, digits: 2)?.description == "-0.13")
    #expect(ExactDecimal(double: 2.5, digits: 0)?.description == "3")
    #expect(ExactDecimal(double: -2.5, digits: 0)?.description == "-3")
    #expect(ExactDecimal(double: 1.23456, digits: 5)?.description == "1.23456")
  }

  @Test func recoversCentsThatBinaryFloatingPointCannotHold() {
    // 0.1 + 0.2 == 0.30000000000000004 as a double; the platform still means 0.30.
    #expect(ExactDecimal(double: 0.1 + 0.2, digits: 2)?.description == "0.30")
    #expect(ExactDecimal(double: 1234567.89, digits: 2)?.mantissa == 123_456_789)
    #expect(ExactDecimal(double: -12.3, digits: 2)?.description == "-12.30")
  }

  @Test func refusesNaNInfinityAndValuesBeyondInt64() {
    #expect(ExactDecimal(double: .nan, digits: 2) == nil)
    #expect(ExactDecimal(double: .infinity, digits: 2) == nil)
    #expect(ExactDecimal(double: -.infinity, digits: 2) == nil)
    #expect(ExactDecimal(double: 1e17, digits: 2) == nil)
    #expect(ExactDecimal(double: 9.3e18, digits: 0) == nil)
    #expect(ExactDecimal(double: 1, digits: 19) == nil)
    #expect(ExactDecimal(double: 1, digits: -1) == nil)
    #expect(ExactDecimal(double: 9.2e18, digits: 0) != nil)
  }

  @Test func describesExactlyWithItsScale() {
    #expect(ExactDecimal(mantissa: -1230, scale: 2)?.description == "-12.30")
    #expect(ExactDecimal(mantissa: 5, scale: 2)?.description == "0.05")
    #expect(ExactDecimal(mantissa: -5, scale: 3)?.description == "-0.005")
    #expect(ExactDecimal(mantissa: 7, scale: 0)?.description == "7")
    #expect(ExactDecimal(mantissa: .min, scale: 0)?.description == "-9223372036854775808")
    #expect(ExactDecimal(mantissa: .min, scale: 18)?.description == "-9.223372036854775808")
    #expect(ExactDecimal(mantissa: 1, scale: 19) == nil)
  }

  @Test func parsesDecimalStringsAndRejectsEverythingElse() {
    #expect(ExactDecimal("-12.30")?.description == "-12.30")
    #expect(ExactDecimal("+5")?.description == "5")
    #expect(ExactDecimal("0.001")?.mantissa == 1)
    #expect(ExactDecimal("9223372036854775807")?.mantissa == .max)
    #expect(ExactDecimal("-9223372036854775808")?.mantissa == .min)
    for bad in ["", "-", ".", "1.", ".5", "1e5", " 1", "1 ", "1.2.3", "abc", "9223372036854775808", "0.1234567890123456789", "--1"] {
      #expect(ExactDecimal(bad) == nil, "\(bad)")
    }
  }

  @Test func comparesByValueWhateverTheScale() {
    let a = ExactDecimal("1.5")!, b = ExactDecimal("1.50")!, c = ExactDecimal("-0.01")!
    #expect(a == b)
    #expect(a.hashValue == b.hashValue)
    #expect(c < a)
    #expect(ExactDecimal("0.999")! < ExactDecimal("1")!)
    // Rescaling would overflow: still ordered exactly.
    let huge = ExactDecimal(mantissa: .max, scale: 0)!, tiny = ExactDecimal(mantissa: 1, scale: 18)!
    #expect(tiny < huge)
    #expect(ExactDecimal(mantissa: .min, scale: 0)! < ExactDecimal(mantissa: -1, scale: 18)!)
    #expect(ExactDecimal(mantissa: 9_000_000_000_000_000_001, scale: 18)! > ExactDecimal(mantissa: 9, scale: 0)!)
  }

  @Test func addsAndSubtractsExactlyOrReportsOverflow() {
    #expect(ExactDecimal("0.10")!.adding(ExactDecimal("0.2")!)?.description == "0.30")
    #expect(ExactDecimal("100")!.subtracting(ExactDecimal("0.01")!)?.description == "99.99")
    #expect(ExactDecimal(mantissa: .max, scale: 0)!.adding(ExactDecimal("1")!) == nil)
    #expect(ExactDecimal("1.25")!.rescaled(to: 1) == nil)
    #expect(ExactDecimal("1.2500")!.trimmed().description == "1.25")
  }

  @Test func roundTripsEveryCentThroughDoubleAndText() {
    var generator = SplitMix64(seed: 42)
    for _ in 0..<10_000 {
      let cents = Int64(bitPattern: generator.next()) % 100_000_000_000
      let value = Double(cents) / 100
      let decimal = ExactDecimal(double: value, digits: 2)
      #expect(decimal?.mantissa == cents)
      #expect(ExactDecimal(decimal!.description) == decimal)
    }
  }
}

/// Deterministic random numbers for property tests.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
