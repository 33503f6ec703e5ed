import TradeServerAPI

/// Flags of a journaled raw record.
public struct RawRecordFlags: OptionSet, Sendable, Hashable {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  /// The host passed a NULL record pointer: no bytes were copied.
  public static let nullRecord = RawRecordFlags(rawValue: 1 << 0)
}

/// A host record exactly as the hook copied it into the journal, before any
/// interpretation.
///
/// - `bytes`: exactly ``RecordLayout/size(of:)`` bytes of the C struct
///   (`MemoryLayout<ts_X>.size`), zero-filled beyond the `struct_size` the host
///   declared; empty when ``RawRecordFlags/nullRecord`` is set.
/// - MT4 trade hooks: `secondaryBytes` holds the `ts_user_info` the same way, with
///   `secondaryDeclaredSize` 0 (and no bytes) when the host passed a NULL user;
///   `mode` is the hook's `TS_OPEN_*` / `TS_UPDATE_*`.
public struct RawRecord: Sendable, Hashable {
  public var kind: RecordKind
  /// The `struct_size` the host declared (0 for NULL).
  public var declaredSize: UInt32
  /// MT4 trade hook mode; 0 otherwise.
  public var mode: Int32
  public var flags: RawRecordFlags
  public var bytes: [UInt8]
  /// `struct_size` of the `ts_user_info` (0: the user pointer was NULL).
  public var secondaryDeclaredSize: UInt32
  public var secondaryBytes: [UInt8]

  public init(
    kind: RecordKind, declaredSize: UInt32, mode: Int32 = 0, flags: RawRecordFlags = [],
    bytes: [UInt8], secondaryDeclaredSize: UInt32 = 0, secondaryBytes: [UInt8] = []
  ) {
    self.kind = kind
    self.declaredSize = declaredSize
    self.mode = mode
    self.flags = flags
    self.bytes = bytes
    self.secondaryDeclaredSize = secondaryDeclaredSize
    self.secondaryBytes = secondaryBytes
  }

  /// Copies a host record into a new raw record (off the hook path: this allocates).
  /// The hook path uses ``RecordLayout/capture(_:structSize:into:)`` on journal memory.
  public init(kind: RecordKind, record: UnsafeRawPointer?, mode: Int32 = 0, secondary: UnsafeRawPointer? = nil) {
    let size = RecordLayout.size(of: kind)
    var bytes = [UInt8](repeating: 0, count: record == nil ? 0 : size)
    let primary = bytes.withUnsafeMutableBytes { RecordLayout.capture(record, structSize: size, into: $0.baseAddress) }
    var secondaryBytes: [UInt8] = []
    var secondaryDeclared: UInt32 = 0
    let secondarySize = RecordLayout.secondarySize(of: kind)
    if secondarySize > 0, let secondary {
      secondaryBytes = [UInt8](repeating: 0, count: secondarySize)
      secondaryDeclared = secondaryBytes.withUnsafeMutableBytes {
        RecordLayout.capture(secondary, structSize: secondarySize, into: $0.baseAddress)
      }
    }
    self.init(
      kind: kind, declaredSize: primary, mode: mode, flags: record == nil ? .nullRecord : [],
      bytes: bytes, secondaryDeclaredSize: secondaryDeclared, secondaryBytes: secondaryBytes)
  }
}

/// Sizes of the C records each kind journals, and the hook-path copy.
public enum RecordLayout {
  /// `MemoryLayout<ts_X>.size` of the record a kind carries; 0 for `.gap`.
  public static func size(of kind: RecordKind) -> Int {
    switch kind {
    case .dealAdd, .dealUpdate, .dealDelete, .dealSnapshot: MemoryLayout<ts_deal>.size
    case .orderAdd, .orderUpdate, .orderDelete: MemoryLayout<ts_order>.size
    case .positionAdd, .positionUpdate, .positionDelete, .positionSnapshot: MemoryLayout<ts_position>.size
    case .tradeAdd, .tradeUpdate, .tradeSnapshot: MemoryLayout<ts_trade_record>.size
    case .userAdd, .userUpdate, .userDelete, .userSnapshot: MemoryLayout<ts_user>.size
    case .dealerLock: MemoryLayout<ts_request>.size
    case .dealerAnswer: MemoryLayout<ts_confirm>.size
    case .execution: MemoryLayout<ts_execution>.size
    case .executionAck: executionAckSize
    case .gap: 0
    }
  }

  /// Bytes an `on_execution_ack` journals: u32 server_id, 4 zero bytes, u64 execution_id
  /// (the arguments, laid out as a C struct of the two would be).
  public static var executionAckSize: Int { 16 }

  /// `MemoryLayout<ts_user_info>.size` for MT4 trade hooks; 0 for every other kind.
  public static func secondarySize(of kind: RecordKind) -> Int {
    switch kind {
    case .tradeAdd, .tradeUpdate: MemoryLayout<ts_user_info>.size
    default: 0
    }
  }

  /// Hook-path copy of one host record: copies `min(struct_size, structSize)` bytes
  /// and zero-fills the rest of `structSize`. No allocation, no lock, no reference
  /// counting.
  ///
  /// - Parameters:
  ///   - record: the host's pointer (may be NULL: nothing is written).
  ///   - structSize: `MemoryLayout<ts_X>.size` of the record type.
  ///   - destination: `structSize` writable bytes (may be nil only if `record` is).
  /// - Returns: the `struct_size` the host declared; 0 for NULL.
  @inlinable
  public static func capture(
    _ record: UnsafeRawPointer?, structSize: Int, into destination: UnsafeMutableRawPointer?
  ) -> UInt32 {
    guard let record, let destination, structSize >= 4 else { return 0 }
    let declared = record.loadUnaligned(as: UInt32.self)
    let copied = Int(declared) < structSize ? Int(declared) : structSize
    if copied > 0 { destination.copyMemory(from: record, byteCount: copied) }
    if copied < structSize {
      (destination + copied).initializeMemory(as: UInt8.self, repeating: 0, count: structSize - copied)
    }
    return declared
  }
}
