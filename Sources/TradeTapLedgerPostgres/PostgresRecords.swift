import NIOCore
import PostgresNIO
import TradeTapLedger

extension LedgerRecord {
  /// A PostgreSQL row as the ledger's backend-neutral record: integers as integers,
  /// text as text, NUMERIC as its exact decimal text (scale kept: `12.50`), bytea as NULL
  /// (like a SQLite blob in ``LedgerRecord``).
  init(postgres row: PostgresRow) throws {
    var fields: [(name: String, value: LedgerValue)] = []
    fields.reserveCapacity(row.count)
    for cell in row {
      fields.append((cell.columnName, try Self.value(cell)))
    }
    self.init(fields: fields)
  }

  static func value(_ cell: PostgresCell) throws -> LedgerValue {
    guard var bytes = cell.bytes else { return .null }
    switch cell.dataType {
    case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
    case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
    case .numeric: return .text(try PostgresNumericText.decode(&bytes))
    case .bytea: return .null
    default: return .text(try cell.decode(String.self))
    }
  }
}

/// NUMERIC's binary form to exact decimal text. PostgresNIO decodes NUMERIC only
/// into `Decimal`, which drops the scale (`12.50` → `12.5`); the ledger shows the
/// platform's own decimals, so the digits are read here.
enum PostgresNumericText {
  struct Malformed: Error {}

  /// Layout: ndigits, weight, sign, dscale (int16 each), then ndigits base-10,000
  /// digits; the value is Σ digit[i] × 10000^(weight − i), shown with dscale decimals.
  static func decode(_ buffer: inout ByteBuffer) throws -> String {
    guard let count = buffer.readInteger(as: Int16.self), let weight = buffer.readInteger(as: Int16.self),
      let sign = buffer.readInteger(as: UInt16.self), let scale = buffer.readInteger(as: Int16.self), count >= 0
    else { throw Malformed() }
    var digits: [Int16] = []
    for _ in 0..<count {
      guard let digit = buffer.readInteger(as: Int16.self) else { throw Malformed() }
      digits.append(digit)
    }
    if sign == 0xC000 { return "NaN" }
    func group(_ index: Int) -> Int16 { index >= 0 && index < digits.count ? digits[index] : 0 }
    func padded(_ value: Int16) -> String {
      let text = String(value)
      return String(repeating: "0", count: 4 - text.count) + text
    }
    var text = sign == 0x4000 ? "-" : ""
    if weight < 0 {
      text += "0"
    } else {
      text += String(group(0))
      if weight > 0 { for index in 1...Int(weight) { text += padded(group(index)) } }
    }
    if scale > 0 {
      var fraction = ""
      var index = Int(weight) + 1
      while fraction.count < Int(scale) {
        fraction += padded(group(index))
        index += 1
      }
      text += "." + fraction.prefix(Int(scale))
    }
    return text
  }
}
