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
    originCycles = tt_cycle_counter()
    originNanoseconds = tt_monotonic_ns()
    // A first rate over ~2 ms; refined by refresh().
    var cycles = originCycles, nanoseconds = originNanoseconds
    while nanoseconds &- originNanoseconds < 2_000_000 {
      tt_cpu_relax()
      cycles = tt_cycle_counter()
      nanoseconds = tt_monotonic_ns()
    }
    let elapsedCycles = cycles &- originCycles
    nanosecondsPerCycle = elapsedCycles == 0 ? 1 : Double(nanoseconds &- originNanoseconds) / Double(elapsedCycles)
    lastRefreshCycles = cycles
    let perSecond = 1e9 / nanosecondsPerCycle
    refreshIntervalCycles = perSecond.isFinite && perSecond >= 1 && perSecond < 1e15 ? UInt64(perSecond) : 1_000_000_000
  }

  var origin: (cycles: UInt64, nanoseconds: UInt64) { (originCycles, originNanoseconds) }

  /// Re-measures the rate if about a second passed since the last time.
  mutating func refreshIfDue() {
    let cycles = tt_cycle_counter()
    guard cycles &- lastRefreshCycles >= refreshIntervalCycles else { return }
    let nanoseconds = tt_monotonic_ns()
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
