import Hummingbird
import TradeTapLedger

/// The query string of one request, checked before any database work: every name
/// must be one the route documents, each at most once, each value short.
struct QueryParameters {
  /// Longest value any parameter of this API needs (a cursor, a timestamp).
  static let maximumValueLength = 64
  static let defaultLimit = 100
  static let maximumLimit = 1000

  private var values: [String: String] = [:]

  init(_ request: Request, allowed: Set<String>) throws {
    for (key, value) in request.uri.queryParameters {
      let name = String(key)
      guard allowed.contains(name) else { throw APIError.unknownParameter(String(name.prefix(64))) }
      guard values[name] == nil else { throw APIError.badParameter(name, "given more than once") }
      guard value.utf8.count <= Self.maximumValueLength else {
        throw APIError(
          status: .badRequest, code: "parameter_too_long",
          message: "\(name): longer than \(Self.maximumValueLength) bytes")
      }
      values[name] = String(value)
    }
  }

  /// `limit`: 1...1000, default 100.
  func limit() throws -> Int {
    guard let text = values["limit"] else { return Self.defaultLimit }
    guard let n = Int(text), n >= 1 else { throw APIError.badParameter("limit", "expected an integer from 1 to \(Self.maximumLimit)") }
    guard n <= Self.maximumLimit else {
      throw APIError(status: .badRequest, code: "limit_too_large", message: "limit: at most \(Self.maximumLimit)")
    }
    return n
  }

  /// A UTC instant (`2026-11-25T20:15:00Z`, optional `.sss`, or a date `2026-11-25`)
  /// as ledger UTC text, so it compares with the `*_utc` columns.
  func utc(_ name: String) throws -> String? {
    guard let text = values[name] else { return nil }
    guard let ms = Self.utcMilliseconds(text) else {
      throw APIError.badParameter(name, "expected UTC ISO 8601 like 2026-11-25T20:15:00Z or 2026-11-25")
    }
    return UTCTime.text(millisecondsSinceEpoch: ms)
  }

  /// An account-listing cursor (`next_cursor` of the previous page).
  func listingCursor() throws -> LedgerCursor? {
    guard let text = values["cursor"] else { return nil }
    guard let cursor = LedgerCursor(text: text) else { throw APIError.badParameter("cursor", "not a cursor this API returned") }
    return cursor
  }

  /// A boolean: `true` or `false`.
  func flag(_ name: String) throws -> Bool? {
    guard let text = values[name] else { return nil }
    guard text == "true" || text == "false" else { throw APIError.badParameter(name, "expected true or false") }
    return text == "true"
  }

  /// A change-feed cursor: a change id, `0` for the beginning.
  func changeCursor(_ name: String) throws -> Int64? {
    guard let text = values[name] else { return nil }
    guard let id = Int64(text), id >= 0 else { throw APIError.badParameter(name, "expected a change id (0 for the beginning)") }
    return id
  }

  /// Days in a Gregorian month: 2025-02-30 is refused, never rolled into March.
  static func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.f{1,3}]Z`, strictly; milliseconds since the epoch.
  static func utcMilliseconds(_ text: String) -> Int64? {
    let b = Array(text.utf8)
    func num(_ at: Int, _ width: Int) -> Int64? {
      guard at + width <= b.count else { return nil }
      var v: Int64 = 0
      for c in b[at..<at + width] {
        guard c >= 48, c <= 57 else { return nil }
        v = v * 10 + Int64(c - 48)
      }
      return v
    }
    guard b.count >= 10, let y = num(0, 4), b[4] == UInt8(ascii: "-"), let mo = num(5, 2), b[7] == UInt8(ascii: "-"),
      let d = num(8, 2), (1...12).contains(mo), (1...daysInMonth(y, mo)).contains(d)
    else { return nil }
    var msOfDay: Int64 = 0
    if b.count > 10 {
      guard b.count >= 20, b[10] == UInt8(ascii: "T"), let h = num(11, 2), b[13] == UInt8(ascii: ":"),
        let mi = num(14, 2), b[16] == UInt8(ascii: ":"), let s = num(17, 2), h < 24, mi < 60, s < 60,
        b.last == UInt8(ascii: "Z")
      else { return nil }
      var fraction: Int64 = 0
      let rest = b[19..<(b.count - 1)]
      if !rest.isEmpty {
        guard rest.first == UInt8(ascii: "."), (2...4).contains(rest.count), let f = num(20, rest.count - 1) else { return nil }
        fraction = f * [100, 10, 1][rest.count - 2]
      }
      msOfDay = ((h * 60 + mi) * 60 + s) * 1000 + fraction
    }
    // Howard Hinnant's days-from-civil.
    let yy = mo <= 2 ? y - 1 : y
    let era = yy / 400
    let yoe = yy - era * 400
    let mp = (mo + 9) % 12
    let doy = (153 * mp + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    return days * 86_400_000 + msOfDay
  }
}
