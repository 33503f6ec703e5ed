/// SplitMix64: a small, fast generator whose whole sequence follows from its seed,
/// so a run with the same `--seed` (and thread count) produces the same state.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  /// A generator for one stream (a host thread, the miss-events decision) derived
  /// from the run's seed, independent of the other streams.
  public init(seed: UInt64, stream: UInt64) {
    var mixer = SeededGenerator(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
    state = mixer.next()
  }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in `0..<bound` (bound > 0); the tiny modulo bias does not matter here.
  public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

  /// True with probability `percent` / 100.
  public mutating func chance(percent: Double) -> Bool {
    Double(next() >> 11) / Double(1 << 53) * 100 < percent
  }
}
