import GRDB
import GRDBSQLite
import TradeTapEvents

/// A prepared statement bound and stepped through the SQLite C API.
///
/// The write path runs a few statements per event at 100k+ events per second;
/// binding through the C API instead of `StatementArguments` (an array of boxed
/// existentials per call) is most of the ledger's CPU. The statement comes from
/// GRDB's cache, which owns it; values are still always bound, never spliced.
struct RawStatement {
  private let statement: Statement
  private let handle: OpaquePointer
  private let connection: OpaquePointer?
  private let arena: BindArena
  private var index: Int32 = 0

  init(_ db: Database, _ sql: String) throws {
    statement = try db.cachedStatement(sql: sql)
    handle = statement.sqliteStatement
    connection = db.sqliteConnection
    arena = BindArena()
  }

  mutating func bind(_ value: Int64) {
    index += 1
    sqlite3_bind_int64(handle, index, value)
  }

  mutating func bind(_ value: Int64?) {
    if let value { bind(value) } else { bindNull() }
  }

  mutating func bind(_ value: Bool) { bind(Int64(value ? 1 : 0)) }

  mutating func bind(_ value: String) {
    var text = value
    text.withUTF8 { bytes in
      bindText(maxBytes: bytes.count) { out in
        if let base = bytes.baseAddress { out.update(from: base, count: bytes.count) }
        return bytes.count
      }
    }
  }

  mutating func bind(_ value: String?) {
    if let value { bind(value) } else { bindNull() }
  }

  mutating func bind(_ value: ExactDecimal) {
    bindText(maxBytes: ExactDecimal.maxLedgerTextBytes) { out in
      var writer = LedgerTextWriter(out)
      writer.append(value)
      return writer.count
    }
  }

  /// Binds the ledger's UTC text of an instant without building a `String`.
  mutating func bindUTC(millisecondsSinceEpoch ms: Int64) {
    guard UTCTime.fitsFixedWidth(millisecondsSinceEpoch: ms) else {
      bind(UTCTime.text(millisecondsSinceEpoch: ms))
      return
    }
    bindText(maxBytes: UTCTime.fixedWidth) { out in
      UTCTime.write(millisecondsSinceEpoch: ms, into: out)
      return UTCTime.fixedWidth
    }
  }

  /// Binds text written in place by `write`, which returns the bytes written
  /// (at most `maxBytes`).
  mutating func bindText(maxBytes: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) {
    index += 1
    if let out = arena.reserve(maxBytes) {
      // The arena outlives the step: SQLite may keep the pointer (SQLITE_STATIC).
      let count = write(out)
      arena.commit(count)
      out.withMemoryRebound(to: CChar.self, capacity: max(count, 1)) {
        _ = sqlite3_bind_text(handle, index, $0, Int32(count), sqliteStatic)
      }
    } else {
      // Larger than the arena (a huge comment): a temporary copy SQLite copies again.
      let out = UnsafeMutablePointer<UInt8>.allocate(capacity: max(maxBytes, 1))
      defer { out.deallocate() }
      let count = write(out)
      out.withMemoryRebound(to: CChar.self, capacity: max(count, 1)) {
        _ = sqlite3_bind_text(handle, index, $0, Int32(count), sqliteTransient)
      }
    }
  }

  mutating func bind(blob: [UInt8]?) {
    index += 1
    guard let blob else {
      sqlite3_bind_null(handle, index)
      return
    }
    let i = index
    blob.withUnsafeBytes { bytes in
      if let base = bytes.baseAddress {
        sqlite3_bind_blob(handle, i, base, Int32(bytes.count), sqliteTransient)
      } else {
        sqlite3_bind_zeroblob(handle, i, 0)
      }
    }
  }

  mutating func bindNull() {
    index += 1
    sqlite3_bind_null(handle, index)
  }

  /// Runs the statement to completion and resets it for the next row.
  /// - Returns: rows changed (`sqlite3_changes`).
  @discardableResult
  mutating func step() throws -> Int {
    index = 0
    let code = sqlite3_step(handle)
    sqlite3_reset(handle)
    // The statement lives on in GRDB's cache after this projection: never leave it
    // pointing into the arena, which is reused now and freed with the projection.
    sqlite3_clear_bindings(handle)
    arena.clear()
    guard code == SQLITE_DONE || code == SQLITE_ROW else {
      let message = connection.map { String(cString: sqlite3_errmsg($0)) }
      throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }
    return Int(sqlite3_changes(connection))
  }
}

/// The bytes of one row's text parameters, bound `SQLITE_STATIC`: SQLite reads them
/// in place instead of copying every string into a `malloc`ed buffer of its own
/// (two allocations and a copy per text column, 10-20 per event). Cleared after
/// every step; a parameter that does not fit is bound as a transient copy.
final class BindArena {
  private let base: UnsafeMutablePointer<UInt8>
  private let capacity: Int
  private var used = 0

  init(capacity: Int = 16_384) {
    self.capacity = capacity
    base = .allocate(capacity: capacity)
  }

  deinit { base.deallocate() }

  func reserve(_ bytes: Int) -> UnsafeMutablePointer<UInt8>? {
    used + max(bytes, 1) <= capacity ? base + used : nil
  }

  func commit(_ bytes: Int) { used += max(bytes, 1) }
  func clear() { used = 0 }
}

/// SQLite copies the bytes before the bind call returns.
nonisolated(unsafe) private let sqliteTransient = unsafeBitCast(
  OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// The bytes outlive the statement's use of them (they live in a ``BindArena``).
nonisolated(unsafe) private let sqliteStatic: sqlite3_destructor_type? = nil

extension ExactDecimal {
  /// The exact text with exactly `scale` decimals (`-12.30`, `0.05`, `7`), built in
  /// one small buffer: the same text as `description`, several times cheaper.
  var ledgerText: String {
    var magnitude = mantissa.magnitude
    let decimals = Int(scale)
    return String(unsafeUninitializedCapacity: 42) { buffer in
      // Write backwards from the end, then move to the front.
      var end = 41
      var written = 0
      repeat {
        if written == decimals, decimals > 0 {
          buffer[end] = UInt8(ascii: ".")
          end -= 1
        }
        buffer[end] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
        magnitude /= 10
        end -= 1
        written += 1
      } while magnitude > 0 || written <= decimals
      if mantissa < 0 {
        buffer[end] = UInt8(ascii: "-")
        end -= 1
      }
      let count = 41 - end
      for i in 0..<count { buffer[i] = buffer[end + 1 + i] }
      return count
    }
  }
}
