/// A record that could not be represented in the event model (NULL, too small,
/// NaN money, unknown enum value, bad UTF-8...). It is forwarded with its raw bytes
/// and a reason, never dropped and never a crash.
public struct Quarantine: Sendable, Hashable {
  /// Which hook (or snapshot) the record came from.
  public var kind: RecordKind
  /// Human-readable reason, e.g. `"deal.profit is not finite"`.
  public var reason: String
  /// The `struct_size` the host declared (0 for NULL).
  public var declaredSize: UInt32
  /// The MT4 trade hook's mode (0 for other kinds).
  public var mode: Int32
  /// The record's bytes as journaled (empty for NULL).
  public var rawBytes: [UInt8]
  /// The `ts_user_info` bytes of an MT4 trade hook (empty otherwise).
  public var secondaryBytes: [UInt8]

  public init(
    kind: RecordKind, reason: String, declaredSize: UInt32 = 0, mode: Int32 = 0,
    rawBytes: [UInt8], secondaryBytes: [UInt8] = []
  ) {
    self.kind = kind
    self.reason = reason
    self.declaredSize = declaredSize
    self.mode = mode
    self.rawBytes = rawBytes
    self.secondaryBytes = secondaryBytes
  }
}
