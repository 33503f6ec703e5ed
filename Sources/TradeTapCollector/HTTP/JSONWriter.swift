import TradeTapLedger

/// A small JSON writer for the API's responses: field order is the ledger's, money
/// stays the ledger's exact decimal text, and every string is escaped so it is
/// returned verbatim yet is inert in HTML (`<`, `>`, `&`, `'` as `\u00XX`).
struct JSONWriter {
  private(set) var text = ""
  private var needsComma = false

  /// Columns the ledger stores as 0/1 that the API returns as booleans.
  static let booleanColumns: Set<String> = ["deleted", "is_open", "in_history"]

  mutating func object(_ body: (inout JSONWriter) -> Void) {
    separate()
    text += "{"
    needsComma = false
    body(&self)
    text += "}"
    needsComma = true
  }

  mutating func array<S: Sequence>(_ items: S, _ body: (inout JSONWriter, S.Element) -> Void) {
    separate()
    text += "["
    needsComma = false
    for item in items { body(&self, item) }
    text += "]"
    needsComma = true
  }

  mutating func field(_ name: String, _ body: (inout JSONWriter) -> Void) {
    separate()
    string(name)
    text += ":"
    needsComma = false
    body(&self)
    needsComma = true
  }

  mutating func field(_ name: String, _ value: String?) {
    field(name) { w in
      if let value { w.string(value) } else { w.text += "null" }
    }
  }

  mutating func field(_ name: String, _ value: Int64?) {
    field(name) { w in w.text += value.map(String.init) ?? "null" }
  }

  /// A number with at most microsecond precision (a duration in seconds); non-finite as null.
  mutating func field(_ name: String, _ value: Double?) {
    field(name) { w in
      guard let value, value.isFinite else { w.text += "null"; return }
      w.text += "\((value * 1e6).rounded() / 1e6)"
    }
  }

  mutating func field(_ name: String, _ value: Bool) {
    field(name) { w in w.text += value ? "true" : "false" }
  }

  /// Every column of a ledger record, in order.
  mutating func fields(_ record: LedgerRecord) {
    for (name, value) in record.fields {
      switch value {
      case .integer(let i) where Self.booleanColumns.contains(name): field(name, i != 0)
      case .integer(let i): field(name, i)
      case .text(let s): field(name, s)
      case .null: field(name, nil as String?)
      }
    }
  }

  mutating func record(_ record: LedgerRecord) { object { $0.fields(record) } }

  private mutating func separate() {
    if needsComma { text += "," }
  }

  private mutating func string(_ s: String) {
    text += "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": text += "\\\""
      case "\\": text += "\\\\"
      case "\n": text += "\\n"
      case "\r": text += "\\r"
      case "\t": text += "\\t"
      case "<", ">", "&", "'", "\u{2028}", "\u{2029}": text += Self.escaped(scalar)
      case _ where scalar.value < 0x20: text += Self.escaped(scalar)
      default: text.unicodeScalars.append(scalar)
      }
    }
    text += "\""
  }

  private static func escaped(_ scalar: Unicode.Scalar) -> String {
    let hex = String(scalar.value, radix: 16)
    return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
  }
}
