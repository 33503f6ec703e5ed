/// Whether a journal's numbering has been agreed with a collector.
///
/// A journal laid out anew numbers from 0. The collector may already hold events of
/// this server (the old journal was emptied, damaged and moved aside, or the plugin
/// was reinstalled): sent as they are, its first sequence numbers would be taken for
/// duplicates and dropped. So a fresh journal stays fresh until the sender's first
/// welcome, which settles its ``Journal/wireOffset`` onto the collector's durable
/// sequence (see docs/sender.md, "A fresh journal").
public enum JournalFreshness: UInt32, Sendable {
  /// The numbering is settled (or the journal predates this field): wire =
  /// journal + 1 + ``Journal/wireOffset``.
  case settled = 0
  /// Laid out anew; nothing is known to be lost.
  case fresh = 1
  /// Laid out anew in place of a damaged or emptied journal: events it held were
  /// lost, so the first welcome also reports a gap for reconciliation to heal.
  case freshAfterLoss = 2
}

/// A damaged journal file that open moved aside before starting a fresh one.
public struct JournalReplacement: Sendable, Equatable {
  /// Where the damaged file now is (`journal.ttj.damaged-<UTC time>`; never deleted).
  public var movedTo: String
  /// What was wrong with it (e.g. `bad magic`, `file shorter than its slots`).
  public var reason: String
}
