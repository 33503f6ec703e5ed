/// A batch of changes an output's destination refused for good (a 4xx other than
/// 408 and 429): kept in the ledger with the answer, so delivery moves on and nothing
/// is lost without a record (docs/outputs.md). An operator re-drives it.
public struct OutputDeadLetter: Sendable, Hashable {
  public var id: Int64
  /// The output's name (`webhook-1`, ...).
  public var output: String
  public var firstChangeId: Int64
  public var lastChangeId: Int64
  /// The destination's HTTP status.
  public var status: Int
  /// The start of its answer (at most 1 KiB).
  public var response: String
  public var failedUtc: String
  /// When a re-drive delivered it; nil while it waits.
  public var redrivenUtc: String?

  public init(
    id: Int64, output: String, firstChangeId: Int64, lastChangeId: Int64, status: Int, response: String,
    failedUtc: String, redrivenUtc: String? = nil
  ) {
    self.id = id
    self.output = output
    self.firstChangeId = firstChangeId
    self.lastChangeId = lastChangeId
    self.status = status
    self.response = response
    self.failedUtc = failedUtc
    self.redrivenUtc = redrivenUtc
  }

  /// The longest answer kept.
  public static let maxResponseBytes = 1024
}
