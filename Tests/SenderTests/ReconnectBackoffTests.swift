import Testing
import TradeTapPluginCore

@Suite struct ReconnectBackoffSpecification {
  @Test func delayCeilingDoublesFromTheInitialValueUntilTheCap() {
    let backoff = ReconnectBackoff(initialMilliseconds: 100, capMilliseconds: 5_000)
    let ceilings = (0..<10).map { backoff.ceilingMilliseconds(afterFailures: $0) }
    #expect(ceilings == [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000, 5_000])
  }

  @Test func everyDelayLiesBetweenHalfTheCeilingAndTheCeiling() {
    var random = KernelRandom()
    for _ in 0..<200 {
      var backoff = ReconnectBackoff(initialMilliseconds: 100, capMilliseconds: 5_000)
      for failure in 0..<12 {
        let ceiling = backoff.ceilingMilliseconds(afterFailures: failure)
        let delay = backoff.nextDelayMilliseconds(using: &random)
        #expect(delay >= ceiling / 2 && delay <= ceiling, "failure \(failure): \(delay) outside [\(ceiling / 2), \(ceiling)]")
      }
    }
  }

  @Test func jitterSpreadsDelaysSoPluginsDoNotReconnectInLockstep() {
    var random = KernelRandom()
    var seen = Set<Int64>()
    for _ in 0..<50 {
      var backoff = ReconnectBackoff(initialMilliseconds: 1_000, capMilliseconds: 30_000)
      seen.insert(backoff.nextDelayMilliseconds(using: &random))
    }
    #expect(seen.count > 10)
  }

  @Test func theCapHoldsAfterManyFailuresWithoutOverflow() {
    var random = KernelRandom()
    var backoff = ReconnectBackoff(initialMilliseconds: 200, capMilliseconds: 30_000)
    for _ in 0..<10_000 { _ = backoff.nextDelayMilliseconds(using: &random) }
    let delay = backoff.nextDelayMilliseconds(using: &random)
    #expect(delay >= 15_000 && delay <= 30_000)
    #expect(backoff.ceilingMilliseconds(afterFailures: Int.max) == 30_000)
  }

  @Test func aWelcomedSessionResetsTheDelayToTheInitialCeiling() {
    var random = KernelRandom()
    var backoff = ReconnectBackoff(initialMilliseconds: 100, capMilliseconds: 5_000)
    for _ in 0..<8 { _ = backoff.nextDelayMilliseconds(using: &random) }
    backoff.reset()
    #expect(backoff.failures == 0)
    #expect(backoff.nextDelayMilliseconds(using: &random) <= 100)
  }
}
