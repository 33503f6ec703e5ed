import NIOCore
import PostgresNIO
import TradeTapEvents

/// Builds a `PostgresQuery` through its string interpolation: constant SQL text
/// (table and column names) as literals, every value as a bound parameter.
struct PostgresSQL {
  private var interpolation: PostgresQuery.StringInterpolation

  init(_ sql: String = "") {
    interpolation = PostgresQuery.StringInterpolation(literalCapacity: 256, interpolationCount: 8)
    interpolation.appendLiteral(sql)
  }

  /// Constant SQL text.
  mutating func sql(_ text: String) { interpolation.appendLiteral(text) }

  /// One bound value.
  mutating func bind(_ value: PostgresValue) {
    switch value {
    case .integer(let v): interpolation.appendInterpolation(v)
    case .text(let v): interpolation.appendInterpolation(v)
    case .money(let v):
      // Bound as its exact text and cast: NUMERIC keeps the platform's scale (`12.50`).
      interpolation.appendInterpolation(v.map { $0.description })
      interpolation.appendLiteral("::numeric")
    case .bytes(let v): interpolation.appendInterpolation(v.map { ByteBuffer(bytes: $0) })
    }
  }

  /// Any encodable value (arrays for `unnest`).
  mutating func bindEncodable<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value) throws {
    try interpolation.appendInterpolation(value)
  }

  var query: PostgresQuery { PostgresQuery(stringInterpolation: interpolation) }
}

/// A value for one column.
enum PostgresValue {
  case integer(Int64?)
  case text(String?)
  case money(ExactDecimal?)
  case bytes([UInt8]?)

  static func flag(_ value: Bool) -> PostgresValue { .integer(value ? 1 : 0) }
  static func utc(_ time: BrokerTime?) -> PostgresValue {
    .text(time.map { UTCTime.text(millisecondsSinceEpoch: $0.utcMilliseconds) })
  }
}

import TradeTapLedger

/// One row image for an upsert: columns and their values, in the order of the
/// SQLite ledger's statements (`LedgerStatements`), so both backends write the same columns.
struct PostgresRowImage {
  var columns: [String] = []
  var values: [PostgresValue] = []

  mutating func set(_ column: String, _ value: PostgresValue) {
    columns.append(column)
    values.append(value)
  }

  /// `INSERT ... ON CONFLICT (keys) DO UPDATE ... WHERE excluded.updated_seq > table.updated_seq`
  /// (`>=` when `correcting`: reconciliation writes at the durable sequence).
  func upsert(into table: String, conflict: [String], correcting: Bool = false) -> PostgresQuery {
    var q = PostgresSQL("INSERT INTO \(table) (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) VALUES (")
    for (index, value) in values.enumerated() {
      if index > 0 { q.sql(", ") }
      q.bind(value)
    }
    let updates = columns.filter { !conflict.contains($0) }.map { "\"\($0)\" = excluded.\"\($0)\"" }
    q.sql(") ON CONFLICT (\(conflict.map { "\"\($0)\"" }.joined(separator: ", "))) DO UPDATE SET ")
    q.sql(updates.joined(separator: ", "))
    q.sql(" WHERE excluded.updated_seq \(correcting ? ">=" : ">") \(table).updated_seq")
    return q.query
  }
  /// `INSERT ... ON CONFLICT DO NOTHING`: a platform fact written once (``LedgerRowShape/insertOnly``).
  func insertOnce(into table: String) -> PostgresQuery {
    var q = PostgresSQL("INSERT INTO \(table) (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) VALUES (")
    for (index, value) in values.enumerated() {
      if index > 0 { q.sql(", ") }
      q.bind(value)
    }
    q.sql(") ON CONFLICT DO NOTHING")
    return q.query
  }
}

extension PostgresRowImage {
  /// One statement for many rows of one table (the stream's deals, one batch at a
  /// time): every column travels as one bound array, `unnest` turns them back into
  /// rows (a NULL value is a NULL element). nil for a column of bytes, or rows of
  /// different column kinds: the caller upserts row by row. The rows must have distinct conflict keys (one statement cannot
  /// update a row twice); the `updated_seq` guard makes the result the same as
  /// applying them one by one, in any order.
  /// - Parameter filter: SQL over the unnested columns `u.c0, u.c1, ...` that a row
  ///   must pass to be written (constant text, no values).
  static func upsertMany(
    _ rows: [PostgresRowImage], into table: String, conflict: [String], filter: String? = nil,
    correcting: Bool = false
  ) throws -> PostgresQuery? {
    var q = PostgresSQL()
    guard appendUpsertMany(rows, into: table, conflict: conflict, filter: filter, correcting: correcting, to: &q) else {
      return nil
    }
    return q.query
  }

  /// ``upsertMany(_:into:conflict:filter:correcting:)`` written at the end of `q`
  /// (a statement of its own, or one of a `WITH` list); false, and `q` untouched,
  /// when the rows cannot go in one statement.
  /// - Parameter onlyIf: a condition every row must also pass, written by the caller
  ///   (its values bound).
  static func appendUpsertMany(
    _ rows: [PostgresRowImage], into table: String, conflict: [String], filter: String? = nil,
    correcting: Bool = false, onlyIf: ((inout PostgresSQL) -> Void)? = nil, to q: inout PostgresSQL
  ) -> Bool {
    guard let columns = UnnestColumns(rows) else { return false }
    columns.appendUpsert(into: table, conflict: conflict, filter: filter, correcting: correcting, onlyIf: onlyIf, to: &q)
    return true
  }
}

/// Rows of one table as one bound array per column, ready for `unnest`; nil when
/// they cannot be (a column of bytes, or rows of different column kinds).
struct UnnestColumns {
  enum Column { case bigint([Int64?]), text([String?]) }
  let columns: [String]
  let arrays: [Column]
  let selects: [String]

  init?(_ rows: [PostgresRowImage]) {
    guard let first = rows.first else { return nil }
    let columns = first.columns
    var arrays: [Column] = []
    var selects: [String] = []
    // NULLs travel as NULL elements (one statement whatever the rows hold).
    for (index, template) in first.values.enumerated() {
      switch template {
      case .integer:
        var values: [Int64?] = []
        values.reserveCapacity(rows.count)
        for row in rows {
          guard row.values.count == columns.count, case .integer(let v) = row.values[index] else { return nil }
          values.append(v)
        }
        arrays.append(.bigint(values))
        selects.append("c\(index)")
      case .text, .money:
        var values: [String?] = []
        values.reserveCapacity(rows.count)
        for row in rows {
          guard row.values.count == columns.count else { return nil }
          switch row.values[index] {
          case .text(let v): values.append(v)
          case .money(let v): values.append(v?.description)
          default: return nil
          }
        }
        arrays.append(.text(values))
        if case .money = template { selects.append("c\(index)::numeric") } else { selects.append("c\(index)") }
      case .bytes:
        return nil
      }
    }
    self.columns = columns
    self.arrays = arrays
    self.selects = selects
  }

  /// `INSERT ... SELECT ... FROM unnest(...) ON CONFLICT ... DO UPDATE ... WHERE`
  /// the `updated_seq` guard, written at the end of `q`.
  func appendUpsert(
    into table: String, conflict: [String], filter: String?, correcting: Bool,
    onlyIf: ((inout PostgresSQL) -> Void)?, to q: inout PostgresSQL
  ) {
    q.sql("INSERT INTO \(table) (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) SELECT ")
    q.sql(selects.joined(separator: ", ") + " FROM unnest(")
    for (index, column) in arrays.enumerated() {
      if index > 0 { q.sql(", ") }
      switch column {
      case .bigint(let values): q.bindArray(values); q.sql("::bigint[]")
      case .text(let values): q.bindArray(values); q.sql("::text[]")
      }
    }
    q.sql(") AS u(\(columns.indices.map { "c\($0)" }.joined(separator: ", ")))")
    if filter != nil || onlyIf != nil { q.sql(" WHERE ") }
    if let filter { q.sql(filter) }
    if let onlyIf {
      if filter != nil { q.sql(" AND ") }
      onlyIf(&q)
    }
    let updates = columns.filter { !conflict.contains($0) }.map { "\"\($0)\" = excluded.\"\($0)\"" }
    q.sql(" ON CONFLICT (\(conflict.map { "\"\($0)\"" }.joined(separator: ", "))) DO UPDATE SET ")
    q.sql(updates.joined(separator: ", "))
    q.sql(" WHERE excluded.updated_seq \(correcting ? ">=" : ">") \(table).updated_seq")
  }
}

extension PostgresSQL {
  /// One bound array (`$n`, the caller adds the cast).
  mutating func bindArray<Element: PostgresArrayEncodable>(_ values: [Element]) throws {
    try bindEncodable(values)
  }

  // The arrays of the write path, encoded by ``PostgresBinaryArray`` (profiled: the
  // driver's generic array encoding was a third of the client's time per batch).
  mutating func bindArray(_ values: [Int64]) { interpolation.appendInterpolation(PostgresBinaryArray.bigint(values)) }
  mutating func bindArray(_ values: [Int64?]) { interpolation.appendInterpolation(PostgresBinaryArray.bigint(values)) }
  mutating func bindArray(_ values: [String]) { interpolation.appendInterpolation(PostgresBinaryArray.text(values)) }
  mutating func bindArray(_ values: [String?]) { interpolation.appendInterpolation(PostgresBinaryArray.text(values)) }
  mutating func bindArray(_ values: [Bool]) { interpolation.appendInterpolation(PostgresBinaryArray.bool(values)) }
  mutating func bindArray(_ values: [[UInt8]?]) { interpolation.appendInterpolation(PostgresBinaryArray.bytea(values)) }
}

/// A one-dimensional array in PostgreSQL's binary format (`array_recv`): ndim 1, a
/// has-nulls flag, the element type, the length and lower bound 1, then each element
/// as its byte length (-1: NULL) and its binary value. Written in one buffer sized
/// up front, element by element, with no per-element generic dispatch.
struct PostgresBinaryArray: PostgresDynamicTypeEncodable {
  let psqlType: PostgresDataType
  var psqlFormat: PostgresFormat { .binary }
  let bytes: ByteBuffer

  func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
    byteBuffer.writeImmutableBuffer(bytes)
  }

  private static func start(_ count: Int, nulls: Bool, element: PostgresDataType, capacity: Int) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: 20 + capacity)
    buffer.writeInteger(Int32(count == 0 ? 0 : 1))
    buffer.writeInteger(Int32(nulls ? 1 : 0))
    buffer.writeInteger(element.rawValue)
    if count > 0 {
      buffer.writeInteger(Int32(count))
      buffer.writeInteger(Int32(1))
    }
    return buffer
  }

  static func bigint(_ values: [Int64]) -> Self {
    var buffer = start(values.count, nulls: false, element: .int8, capacity: values.count * 12)
    for value in values {
      buffer.writeInteger(Int32(8))
      buffer.writeInteger(value)
    }
    return Self(psqlType: .int8Array, bytes: buffer)
  }

  static func bigint(_ values: [Int64?]) -> Self {
    var buffer = start(values.count, nulls: values.contains(nil), element: .int8, capacity: values.count * 12)
    for value in values {
      if let value {
        buffer.writeInteger(Int32(8))
        buffer.writeInteger(value)
      } else {
        buffer.writeInteger(Int32(-1))
      }
    }
    return Self(psqlType: .int8Array, bytes: buffer)
  }

  static func text(_ values: [String]) -> Self {
    var size = 0
    for value in values { size += 4 + value.utf8.count }
    var buffer = start(values.count, nulls: false, element: .text, capacity: size)
    for value in values {
      buffer.writeInteger(Int32(value.utf8.count))
      buffer.writeString(value)
    }
    return Self(psqlType: .textArray, bytes: buffer)
  }

  static func text(_ values: [String?]) -> Self {
    var size = 0, nulls = false
    for value in values {
      if let value { size += 4 + value.utf8.count } else { size += 4; nulls = true }
    }
    var buffer = start(values.count, nulls: nulls, element: .text, capacity: size)
    for value in values {
      if let value {
        buffer.writeInteger(Int32(value.utf8.count))
        buffer.writeString(value)
      } else {
        buffer.writeInteger(Int32(-1))
      }
    }
    return Self(psqlType: .textArray, bytes: buffer)
  }

  static func bool(_ values: [Bool]) -> Self {
    var buffer = start(values.count, nulls: false, element: .bool, capacity: values.count * 5)
    for value in values {
      buffer.writeInteger(Int32(1))
      buffer.writeInteger(UInt8(value ? 1 : 0))
    }
    return Self(psqlType: .boolArray, bytes: buffer)
  }

  static func bytea(_ values: [[UInt8]?]) -> Self {
    var size = 0, nulls = false
    for value in values {
      if let value { size += 4 + value.count } else { size += 4; nulls = true }
    }
    var buffer = start(values.count, nulls: nulls, element: .bytea, capacity: size)
    for value in values {
      if let value {
        buffer.writeInteger(Int32(value.count))
        buffer.writeBytes(value)
      } else {
        buffer.writeInteger(Int32(-1))
      }
    }
    return Self(psqlType: .byteaArray, bytes: buffer)
  }
}

extension PostgresRowImage {
  /// A planned row (``LedgerRowImage``) in PostgreSQL's values.
  init(_ row: LedgerRowImage) {
    columns = row.shape.columns
    values = row.values.map { cell in
      switch cell {
      case .integer(let value): .integer(value)
      case .text(let value): .text(value)
      case .money(let value): .money(value)
      case .utc(let time): .utc(time)
      case .flag(let value): .flag(value)
      }
    }
  }
}
