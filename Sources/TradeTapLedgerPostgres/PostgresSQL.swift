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
}

extension PostgresRowImage {
  /// One statement for many rows of one table (the stream's deals, one batch at a
  /// time): every column travels as one bound array, `unnest` turns them back into
  /// rows. nil when a value is NULL (arrays here carry none): the caller upserts
  /// row by row. The rows must have distinct conflict keys (one statement cannot
  /// update a row twice); the `updated_seq` guard makes the result the same as
  /// applying them one by one, in any order.
  /// - Parameter filter: SQL over the unnested columns `u.c0, u.c1, ...` that a row
  ///   must pass to be written (constant text, no values).
  static func upsertMany(
    _ rows: [PostgresRowImage], into table: String, conflict: [String], filter: String? = nil,
    correcting: Bool = false
  ) throws -> PostgresQuery? {
    guard let first = rows.first else { return nil }
    let columns = first.columns
    var q = PostgresSQL("INSERT INTO \(table) (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) SELECT ")
    var selects: [String] = []
    var arrays: [(PostgresValue, [PostgresValue])] = []
    for (index, template) in first.values.enumerated() {
      let column = rows.map { $0.values[index] }
      arrays.append((template, column))
      if case .money = template { selects.append("c\(index)::numeric") } else { selects.append("c\(index)") }
    }
    q.sql(selects.joined(separator: ", ") + " FROM unnest(")
    for (index, (template, column)) in arrays.enumerated() {
      if index > 0 { q.sql(", ") }
      switch template {
      case .integer:
        let values = column.compactMap { if case .integer(let v?) = $0 { v } else { nil } }
        guard values.count == rows.count else { return nil }
        try q.bindArray(values)
        q.sql("::bigint[]")
      case .text, .money:
        let values = column.compactMap { value -> String? in
          switch value {
          case .text(let v?): v
          case .money(let v?): v.description
          default: nil
          }
        }
        guard values.count == rows.count else { return nil }
        try q.bindArray(values)
        q.sql("::text[]")
      case .bytes:
        return nil
      }
    }
    q.sql(") AS u(\(columns.indices.map { "c\($0)" }.joined(separator: ", ")))")
    if let filter { q.sql(" WHERE \(filter)") }
    let updates = columns.filter { !conflict.contains($0) }.map { "\"\($0)\" = excluded.\"\($0)\"" }
    q.sql(" ON CONFLICT (\(conflict.map { "\"\($0)\"" }.joined(separator: ", "))) DO UPDATE SET ")
    q.sql(updates.joined(separator: ", "))
    q.sql(" WHERE excluded.updated_seq \(correcting ? ">=" : ">") \(table).updated_seq")
    return q.query
  }
}

extension PostgresSQL {
  /// One bound array (`$n`, the caller adds the cast).
  mutating func bindArray<Element: PostgresArrayEncodable>(_ values: [Element]) throws {
    try bindEncodable(values)
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
