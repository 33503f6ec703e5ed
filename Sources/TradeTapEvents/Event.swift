/// One normalised event: what the plugin saw at the hook, in a form both the wire
/// and the ledger use.
///
/// `(serverId, sequence)` identifies the event: sequence numbers are assigned at the
/// hook, per server, gap-free; the ledger's unique key on them makes redelivery
/// harmless.
public struct Event: Sendable, Hashable {
  /// `ts_server_info.server_id`.
  public var serverId: UInt32
  /// Per-server sequence number, assigned at the hook. 0 for snapshot records.
  public var sequence: UInt64
  /// Which hook produced the event (or `.gap`, or a snapshot kind).
  public var kind: RecordKind
  /// Monotonic clock at the hook (`CLOCK_MONOTONIC`, ns): latency measurement only.
  public var hookTimestampNanos: UInt64
  /// Broker time minus UTC, in minutes.
  public var utcOffsetMinutes: Int32
  public var body: EventBody

  public init(
    serverId: UInt32, sequence: UInt64, kind: RecordKind, hookTimestampNanos: UInt64,
    utcOffsetMinutes: Int32, body: EventBody
  ) {
    self.serverId = serverId
    self.sequence = sequence
    self.kind = kind
    self.hookTimestampNanos = hookTimestampNanos
    self.utcOffsetMinutes = utcOffsetMinutes
    self.body = body
  }
}

/// What an event carries.
public enum EventBody: Sendable, Hashable {
  case deal(Deal)
  case order(Order)
  case position(Position)
  case trade(Trade)
  case user(User)
  case gap(Gap)
  case quarantine(Quarantine)
  /// A request, answer, execution or execution ack tapped at a gateway.
  case gateway(GatewayEvent)
}
