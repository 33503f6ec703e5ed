/// Which collector to dial next, and how long to wait first.
///
/// Collectors are tried in the order the `Collector` parameter lists them. A failed
/// connection moves on to the next one at once; only when every collector in the
/// list has failed in a row does the sender wait, with `ReconnectBackoff`, before
/// starting again from the first. After a session that was welcomed ends, the next
/// round starts again from the first (the primary is preferred).
public struct FailoverPlan: Sendable {
  public let endpoints: [CollectorEndpoint]
  public private(set) var backoff: ReconnectBackoff
  private var index = 0
  private var failedInRound = 0

  /// Returns nil when `endpoints` is empty.
  public init?(endpoints: [CollectorEndpoint], backoff: ReconnectBackoff = ReconnectBackoff()) {
    guard !endpoints.isEmpty else { return nil }
    self.endpoints = endpoints
    self.backoff = backoff
  }

  /// The collector to dial now.
  public var current: CollectorEndpoint { endpoints[index] }

  /// The current collector could not be reached, or its session ended before welcome.
  /// - Returns: milliseconds to wait before dialing `current` (0 = at once).
  public mutating func connectionFailed<G: RandomNumberGenerator>(using generator: inout G) -> Int64 {
    failedInRound += 1
    index = (index + 1) % endpoints.count
    guard failedInRound >= endpoints.count else { return 0 }
    failedInRound = 0
    return backoff.nextDelayMilliseconds(using: &generator)
  }

  /// The current collector welcomed us: failures are forgotten.
  public mutating func sessionEstablished() {
    backoff.reset()
    failedInRound = 0
  }

  /// A welcomed session ended: start over from the first collector.
  /// - Returns: milliseconds to wait first (the initial backoff ceiling's jittered
  ///   value, so a collector that welcomes and then drops us is not hammered).
  public mutating func sessionEnded<G: RandomNumberGenerator>(using generator: inout G) -> Int64 {
    index = 0
    failedInRound = 0
    return backoff.nextDelayMilliseconds(using: &generator)
  }
}
