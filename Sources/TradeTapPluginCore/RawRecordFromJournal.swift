import TradeServerAPI
import TradeTapEvents
import TradeTapJournal

extension RawRecord {
  /// The event model's raw record for a journaled hook record (copies the bytes);
  /// nil for gap records and unknown kinds.
  public init?(journal record: JournalRecord) {
    guard record.kind != journalGapKind, let kind = RecordKind(rawValue: record.kind) else { return nil }
    let size = RecordLayout.size(of: kind)
    let secondarySize = RecordLayout.secondarySize(of: kind)
    let bytes = record.payload
    var flags: RawRecordFlags = []
    var primary: [UInt8] = []
    if record.flags.contains(.nullRecord) {
      flags.insert(.nullRecord)
    } else {
      primary = Array(bytes.prefix(size))
    }
    var secondary: [UInt8] = []
    if secondarySize > 0, !record.flags.contains(.secondaryNull) {
      secondary = Array(bytes.dropFirst(size).prefix(secondarySize))
    }
    self.init(
      kind: kind, declaredSize: record.declaredSize, mode: record.mode, flags: flags, bytes: primary,
      secondaryDeclaredSize: record.flags.contains(.secondaryNull) ? 0 : record.declaredSecondarySize,
      secondaryBytes: secondary)
  }
}
