/// Sequence numbers that will never carry their events: detected loss, reported,
/// never silent. Reconciliation heals what they covered.
public struct Gap: Sendable, Hashable {
  /// First missing sequence number.
  public var firstSequence: UInt64
  /// How many consecutive sequence numbers are missing.
  public var count: UInt64
  public var reason: GapReason
  /// For an overflow gap: how many events the journal refused while it was full.
  /// Those events never had sequence numbers, so this is not `count` (nil: not stated).
  public var refusedEvents: UInt64?

  public init(firstSequence: UInt64, count: UInt64, reason: GapReason, refusedEvents: UInt64? = nil) {
    self.firstSequence = firstSequence
    self.count = count
    self.reason = reason
    self.refusedEvents = refusedEvents
  }
}

/// Why a gap exists. The raw value is stored in the journal and on the wire.
public enum GapReason: UInt8, Sendable, CaseIterable {
  /// The journal was full; the hook counted the events it could not keep.
  case overflow = 1
  /// Claimed but never committed: the host died mid-hook.
  case uncommitted = 2
  /// Any other detected loss.
  case other = 3
  /// Not a loss: the plugin withheld the event on purpose (its account is excluded
  /// by the `Groups` mask), so the sequence number carries no data.
  case filtered = 4

  /// Stable text name (ledger `gaps.reason`, logs, docs); never changes once published.
  public var name: String {
    switch self {
    case .overflow: "overflow"
    case .uncommitted: "uncommitted"
    case .other: "other"
    case .filtered: "filtered"
    }
  }

  /// Whether the sequence numbers lost events (false for a deliberate hole).
  public var isLoss: Bool { self != .filtered }
}
