import TradeTapJournal

/// What every sink callback reaches through its `context` pointer: a plain struct
/// of a journal producer (raw pointers and integers) and a raw block of atomic
/// words. No Swift object is reachable from here, so the hooks do no reference
/// counting.
struct HookContext {
  /// Appends to the journal (trivial value).
  var producer: JournalProducer
  /// Atomic words, each on its own cache line (see ``HookWord``).
  var words: UnsafeMutableRawPointer
}

/// Offsets of the atomic words behind ``HookContext/words``.
enum HookWord {
  /// `EventSelection.rawValue` (UInt32): read by every hook, written by config_set.
  @inlinable static var eventSelection: Int { 0 }
  /// Records quarantined at the hook (UInt64): NULL, too-small or implausible sizes.
  @inlinable static var quarantinedAtHook: Int { 64 }
  /// Records the sender quarantined (UInt64): unrepresentable values.
  @inlinable static var quarantinedInSender: Int { 128 }
  /// Records the sender skipped by the `Groups` filter (UInt64).
  @inlinable static var filteredByGroup: Int { 192 }
  @inlinable static var blockSize: Int { 256 }
}
