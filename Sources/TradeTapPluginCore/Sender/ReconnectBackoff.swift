/// Capped exponential backoff with jitter between reconnect rounds.
///
/// The n-th consecutive failure (n from 0) waits a uniformly random time in
/// `[ceiling/2, ceiling]`, where `ceiling = min(cap, initial × 2ⁿ)`: the delay
/// grows, never exceeds the cap, and many plugins restarted together by one
/// collector outage do not reconnect in lockstep ("equal jitter").
public struct ReconnectBackoff: Sendable {
  public var initialMilliseconds: Int64
  public var capMilliseconds: Int64
  /// Consecutive failed rounds since the last successful session.
  public private(set) var failures: Int = 0

  /// - Parameters:
  ///   - initialMilliseconds: ceiling of the first delay (default 200 ms).
  ///   - capMilliseconds: largest delay ever waited (default 30 s).
  public init(initialMilliseconds: Int64 = 200, capMilliseconds: Int64 = 30_000) {
    self.initialMilliseconds = max(1, initialMilliseconds)
    self.capMilliseconds = max(self.initialMilliseconds, capMilliseconds)
  }

  /// The ceiling of the delay after `failures` consecutive failures.
  public func ceilingMilliseconds(afterFailures failures: Int) -> Int64 {
    var ceiling = initialMilliseconds
    var n = 0
    while n < failures && ceiling < capMilliseconds {
      ceiling = ceiling > capMilliseconds / 2 ? capMilliseconds : ceiling * 2
      n += 1
    }
    return min(ceiling, capMilliseconds)
  }

  /// Records one more failed round and returns how long to wait before the next.
  public mutating func nextDelayMilliseconds<G: RandomNumberGenerator>(using generator: inout G) -> Int64 {
    let ceiling = ceilingMilliseconds(afterFailures: failures)
    failures += 1
    let floor = ceiling / 2
    return Int64.random(in: floor...ceiling, using: &generator)
  }

  /// A session reached `welcome`: the next failure starts from the initial delay again.
  public mutating func reset() { failures = 0 }
}
