import Foundation
import TradeServerAPI

/// The gateway's execution store (`--store DIR`, file `executions.dat`): every
/// execution as its `ts_execution` record, appended in id order, each behind a
/// 16-byte header (magic `TTEX`, payload length, FNV-1a checksum, zero). `append`
/// writes with `write(2)` (the record is in the page cache: a killed process keeps
/// it); `sync` makes it durable (`fdatasync`). Opening reads every whole record and
/// cuts a torn or corrupt tail off. Ids are strictly increasing and never reused.
/// The caller serialises `append` and `sync`; reads (`after`, `progress`) may run on
/// any thread.
public final class ExecutionStore: @unchecked Sendable {
  static let magic: UInt32 = 0x5845_5454  // "TTEX"
  static let headerSize = 16
  static let recordSize = MemoryLayout<ts_execution>.size

  public let path: String
  private let fd: Int32
  private let lock = NSLock()
  private var records: [ts_execution] = []
  private var requests: [RequestKey: (remaining: UInt64, final: Bool)] = [:]
  /// Bytes cut off a torn tail when the store was opened.
  public private(set) var truncatedBytes = 0

  struct RequestKey: Hashable { var server: UInt32; var request: UInt64 }

  public init(directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    path = directory + "/executions.dat"
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
    let data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
    var offset = 0
    data.withUnsafeBytes { raw in
      while offset + Self.headerSize + Self.recordSize <= raw.count {
        let magic = raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        let length = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
        let sum = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
        let payload = UnsafeRawBufferPointer(rebasing: raw[(offset + Self.headerSize)..<(offset + Self.headerSize + Self.recordSize)])
        guard magic == Self.magic, Int(length) == Self.recordSize, Self.checksum(payload) == sum else { break }
        let record = payload.loadUnaligned(as: ts_execution.self)
        guard record.execution_id > (records.last?.execution_id ?? 0) else { break }
        records.append(record)
        note(record)
        offset += Self.headerSize + Self.recordSize
      }
    }
    if offset < data.count {
      truncatedBytes = data.count - offset
      _ = ftruncate(fd, off_t(offset))
      _ = fdatasync(fd)
    }
    lseek(fd, off_t(offset), SEEK_SET)
  }

  deinit { close(fd) }

  static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var hash: UInt32 = 2_166_136_261
    for byte in bytes { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
    return hash
  }

  private func note(_ record: ts_execution) {
    let key = RequestKey(server: record.server_id, request: record.request_id)
    let final = record.action != UInt32(TS_TE_ORDER_FILL) || record.deal_volume_remaining_ext == 0
    requests[key] = (record.deal_volume_remaining_ext, final)
  }

  /// The highest id stored (0 when empty).
  public var lastID: UInt64 { lock.withLock { records.last?.execution_id ?? 0 } }
  public var count: Int { lock.withLock { records.count } }

  /// Appends one record (its id must be above every stored one) with `write(2)`.
  public func append(_ record: ts_execution) throws {
    var frame = [UInt8](repeating: 0, count: Self.headerSize + Self.recordSize)
    var copy = record
    frame.withUnsafeMutableBytes { raw in
      withUnsafeBytes(of: &copy) { payload in
        raw.storeBytes(of: Self.magic, toByteOffset: 0, as: UInt32.self)
        raw.storeBytes(of: UInt32(Self.recordSize), toByteOffset: 4, as: UInt32.self)
        raw.storeBytes(of: Self.checksum(payload), toByteOffset: 8, as: UInt32.self)
        UnsafeMutableRawBufferPointer(rebasing: raw[Self.headerSize...]).copyMemory(from: payload)
      }
    }
    try lock.withLock {
      guard record.execution_id > (records.last?.execution_id ?? 0) else { throw CocoaError(.fileWriteUnknown) }
      let written = frame.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      guard written == frame.count else { throw CocoaError(.fileWriteUnknown) }
      records.append(record)
      note(record)
    }
  }

  /// Makes every appended record durable.
  public func sync() { _ = fdatasync(fd) }

  /// Stored executions after `id`, oldest first (one server's, or all).
  public func after(_ id: UInt64, server: UInt32? = nil) -> [ts_execution] {
    lock.withLock {
      var low = 0, high = records.count
      while low < high {
        let mid = (low + high) / 2
        if records[mid].execution_id <= id { low = mid + 1 } else { high = mid }
      }
      return records[low...].filter { server == nil || $0.server_id == server! }
    }
  }

  /// What the store knows of a request: the volume its last execution left, and
  /// whether that execution ended it (a reject or the last fill); nil when none.
  public func progress(server: UInt32, request: UInt64) -> (remaining: UInt64, final: Bool)? {
    lock.withLock { requests[RequestKey(server: server, request: request)] }
  }
}
