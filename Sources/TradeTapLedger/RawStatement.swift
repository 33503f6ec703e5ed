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
  private var index: Int32 = 0

  init(_ db: Database, _ sql: String) throws {
    statement = try db.cachedStatement(sql: sql)
    handle = statement.sqliteStatement
    connection = db.sqliteConnection
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
    index += 1
    var text = value
    let i = index
    text.withUTF8 { bytes in
      if let base = bytes.baseAddress {
        _ = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
          sqlite3_bind_text(handle, i, $0, Int32(bytes.count), sqliteTransient)
        }
      } else {
        // No address for zero bytes: SQLite would read a NULL pointer as NULL, not ''.
        sqlite3_bind_text(handle, i, "", 0, sqliteTransient)
      }
    }
  }

  mutating func bind(_ value: String?) {
    if let value { bind(value) } else { bindNull() }
  }

  mutating func bind(_ value: ExactDecimal) { bind(value.ledgerText) }

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
    guard code == SQLITE_DONE || code == SQLITE_ROW else {
      let message = connection.map { String(cString: sqlite3_errmsg($0)) }
      throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }
    return Int(sqlite3_changes(connection))
  }
}

/// SQLite copies the bytes before the bind call returns.
nonisolated(unsafe) private let sqliteTransient = unsafeBitCast(
  OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

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
