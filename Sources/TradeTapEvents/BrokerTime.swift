/// A platform timestamp: broker time (the trade server's local clock) in
/// milliseconds, with the server's UTC offset so UTC is always one step away.
///
/// MT4 records carry seconds; the normaliser multiplies them by 1000.
public struct BrokerTime: Sendable, Hashable, Comparable {
  /// Milliseconds since 1970-01-01 00:00 *broker time*.
  public var brokerMilliseconds: Int64
  /// Broker time minus UTC, in minutes (`ts_server_info.utc_offset_minutes`).
  public var utcOffsetMinutes: Int32

  public init(brokerMilliseconds: Int64, utcOffsetMinutes: Int32) {
    self.brokerMilliseconds = brokerMilliseconds
    self.utcOffsetMinutes = utcOffsetMinutes
  }

  /// Milliseconds since the Unix epoch in UTC: `broker - offset`. Saturates at the
  /// `Int64` bounds instead of trapping on absurd inputs.
  public var utcMilliseconds: Int64 {
    let offset = Int64(utcOffsetMinutes) * 60_000
    let (value, overflow) = brokerMilliseconds.subtractingReportingOverflow(offset)
    if overflow { return offset > 0 ? .min : .max }
    return value
  }

  public static func < (lhs: BrokerTime, rhs: BrokerTime) -> Bool {
    (lhs.utcMilliseconds, lhs.brokerMilliseconds) < (rhs.utcMilliseconds, rhs.brokerMilliseconds)
  }
}
