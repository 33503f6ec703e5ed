import CTradeTapShims
import TradeTapJournal

/// A snapshot of the plugin's counters, for `/metrics`.
public struct PluginCounters: Sendable, Equatable {
  /// Records ever journaled (the next sequence number; gap records included).
  public var eventsJournaled: UInt64
  /// Records quarantined at the hook (NULL, too-small or implausible `struct_size`).
  public var quarantinedAtHook: UInt64
  /// Records the sender quarantined (unrepresentable values).
  public var quarantinedInSender: UInt64
  /// Records the sender skipped because of `Groups`.
  public var filteredByGroup: UInt64
  /// Events refused because the journal was full.
  public var overflowed: UInt64
  /// Claimed-never-committed records found by recovery.
  public var uncommittedRecovered: UInt64
  /// Journal fill in [0, 1].
  public var journalFill: Double

  /// Every quarantined record.
  public var quarantined: UInt64 { quarantinedAtHook &+ quarantinedInSender }
}

/// The counters' live storage: atomic words read or bumped from any thread.
/// A plain value: the sender keeps a copy.
public struct PluginCounterWords: @unchecked Sendable {
  let words: UnsafeMutableRawPointer
  let journal: Journal

  /// The sender quarantined a record.
  public func countQuarantinedInSender() {
    _ = tt_fetch_add_u64(words + HookWord.quarantinedInSender, 1)
  }

  /// The sender skipped a record because of `Groups`.
  public func countFilteredByGroup() {
    _ = tt_fetch_add_u64(words + HookWord.filteredByGroup, 1)
  }

  /// A consistent-enough snapshot (each word is read atomically).
  public var snapshot: PluginCounters {
    let statistics = journal.statistics
    return PluginCounters(
      eventsJournaled: statistics.nextSequence,
      quarantinedAtHook: tt_load_acquire_u64(words + HookWord.quarantinedAtHook),
      quarantinedInSender: tt_load_acquire_u64(words + HookWord.quarantinedInSender),
      filteredByGroup: tt_load_acquire_u64(words + HookWord.filteredByGroup),
      overflowed: statistics.overflowedTotal,
      uncommittedRecovered: statistics.uncommittedTotal,
      journalFill: statistics.fill)
  }
}
