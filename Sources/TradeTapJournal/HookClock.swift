import CTradeTapShims

/// Converts the hooks' cycle-counter timestamps to CLOCK_MONOTONIC nanoseconds.
///
/// The hook stores the raw counter (a few ns; `clock_gettime` through the vDSO
/// costs 15-20 ns, half the hook). The reader maps it linearly through a
/// (cycles, nanoseconds) origin taken at open and a rate that it re-measures
/// against CLOCK_MONOTONIC about once a second, so the error shrinks as the
/// interval grows. Needs an invariant counter (`constant_tsc`, any AArch64).
struct HookClock {
  private var originCycles: UInt64
  private var originNanoseconds: UInt64
  private var nanosecondsPerCycle: Double
  private var lastRefreshCycles: UInt64
  private var refreshIntervalCycles: UInt64

  init() {
    (originCycles, originNanoseconds) = Self.pairedReading()
    // A first rate over ~2 ms; refined by refresh().
    var cycles = originCycles, nanoseconds = originNanoseconds
    while nanoseconds &- originNanoseconds < 2_000_000 {
      tt_cpu_relax()
      (cycles, nanoseconds) = Self.pairedReading()
    }
    let elapsedCycles = cycles &- originCycles
    nanosecondsPerCycle = elapsedCycles == 0 ? 1 : Double(nanoseconds &- originNanoseconds) / Double(elapsedCycles)
    lastRefreshCycles = cycles
    let perSecond = 1e9 / nanosecondsPerCycle
    refreshIntervalCycles = perSecond.isFinite && perSecond >= 1 && perSecond < 1e15 ? UInt64(perSecond) : 1_000_000_000
  }

  /// A (cycles, nanoseconds) pair read as close together as this thread could: the
  /// clock read bracketed by two counter reads, the tightest of a few tries. A pair
  /// read across a preemption skews the rate by the preemption over the interval (a
  /// CI run on two busy cores saw a hook stamped 1.5 ms late 20 ms after open).
  static func pairedReading() -> (cycles: UInt64, nanoseconds: UInt64) {
    var best: (cycles: UInt64, nanoseconds: UInt64, width: UInt64) = (0, 0, .max)
    for _ in 0..<8 {
      let before = tt_cycle_counter()
      let nanoseconds = tt_monotonic_ns()
      let after = tt_cycle_counter()
      let width = after &- before
      if width < best.width { best = (before &+ width / 2, nanoseconds, width) }
    }
    return (best.cycles, best.nanoseconds)
  }

  var origin: (cycles: UInt64, nanoseconds: UInt64) { (originCycles, originNanoseconds) }

  /// Re-measures the rate if about a second passed since the last time.
  mutating func refreshIfDue() {
    guard tt_cycle_counter() &- lastRefreshCycles >= refreshIntervalCycles else { return }
    let (cycles, nanoseconds) = Self.pairedReading()
    let elapsedCycles = cycles &- originCycles
    if elapsedCycles > 0 && nanoseconds > originNanoseconds {
      nanosecondsPerCycle = Double(nanoseconds - originNanoseconds) / Double(elapsedCycles)
    }
    lastRefreshCycles = cycles
  }

  /// CLOCK_MONOTONIC nanoseconds for a cycle-counter value (same boot).
  func nanoseconds(atCycles cycles: UInt64) -> UInt64 {
    let delta = Double(Int64(bitPattern: cycles &- originCycles)) * nanosecondsPerCycle
    let result = Double(originNanoseconds) + delta
    return result <= 0 ? 0 : (result >= 1.8e19 ? UInt64.max : UInt64(result))
  }
}
