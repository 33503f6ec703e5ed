/// What the hook saw about a record besides its bytes. Stored in the slot header.
public struct JournalRecordFlags: OptionSet, Sendable, Hashable {
  public let rawValue: UInt16
  @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

  /// The host passed a NULL record pointer; the payload is empty.
  @inlinable public static var nullRecord: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 0) }
  /// The record's `struct_size` was below the fields this version knows: the bytes
  /// past it are zero-filled, not the host's.
  @inlinable public static var shortRecord: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 1) }
  /// `struct_size` was larger than this version knows (a newer host appended fields);
  /// only the known prefix was copied. Not an error.
  @inlinable public static var extendedRecord: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 2) }
  /// `struct_size` was implausibly large (above 64 KiB): only the known prefix was read.
  @inlinable public static var implausibleSize: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 3) }
  /// MT4 trade hooks: the `ts_user_info` pointer was NULL (the host had no account).
  @inlinable public static var secondaryNull: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 4) }
  /// MT4 trade hooks: the `ts_user_info` had a too-small `struct_size`.
  @inlinable public static var secondaryShort: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 5) }
  /// MT4 trade hooks: the `ts_user_info` had an implausibly large `struct_size`.
  @inlinable public static var secondaryImplausibleSize: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 6) }
  /// Gap record: events refused while the journal was full.
  @inlinable public static var gapOverflow: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 8) }
  /// Gap record: this sequence number was claimed by a hook that never committed
  /// (the host died mid-hook); written by recovery at open.
  @inlinable public static var gapUncommitted: JournalRecordFlags { JournalRecordFlags(rawValue: 1 << 9) }

  /// Flags that make the record unrepresentable as-is: the event model must
  /// quarantine it (keep the raw bytes and the reason, never drop it).
  @inlinable public static var quarantineReasons: JournalRecordFlags {
    JournalRecordFlags(rawValue: 1 << 0 | 1 << 1 | 1 << 3 | 1 << 5 | 1 << 6)
  }

  /// True when the hook already knows the record must be quarantined.
  @inlinable public var needsQuarantine: Bool { rawValue & Self.quarantineReasons.rawValue != 0 }
}

/// The raw value of `RecordKind.gap` (TradeTapEvents): the journal writes gap records
/// itself and does not depend on the event model.
public let journalGapKind: UInt16 = 32

/// A zero-copy view of one committed journal record. The bytes stay valid until the
/// consumer releases the record's sequence number (``Journal/release(through:)``).
public struct JournalRecord: @unchecked Sendable {
  /// Per-server, gap-free sequence number assigned at the hook.
  public let sequence: UInt64
  /// `RecordKind` raw value (TradeTapEvents), or ``journalGapKind``.
  public let kind: UInt16
  public let flags: JournalRecordFlags
  /// MT4 trade hooks: the `mode` argument (TS_OPEN_* / TS_UPDATE_*); 0 otherwise.
  public let mode: Int32
  /// CLOCK_MONOTONIC nanoseconds when the hook ran (for latency measurement),
  /// converted from ``hookCycles`` by the journal's calibration.
  public let hookMonotonicNanoseconds: UInt64
  /// The CPU cycle counter when the hook ran, as stored.
  public let hookCycles: UInt64
  /// The record's `struct_size` as the host declared it.
  public let declaredSize: UInt32
  /// MT4 trade hooks: the `ts_user_info`'s `struct_size`; 0 otherwise.
  public let declaredSecondarySize: UInt32
  /// The copied record bytes (for MT4 trades: trade record then user info).
  public let payload: UnsafeRawBufferPointer

  /// For gap records: how many events the gap stands for.
  public var gapCount: UInt64? {
    guard kind == journalGapKind, payload.count >= 8 else { return nil }
    return payload.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
  }
}
