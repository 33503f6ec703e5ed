import GRDB
import TradeTapEvents

/// A ledger row as reconciliation reads it. Both backends compare through the same
/// ``ReconciliationRules``, so SQLite and PostgreSQL can never disagree on what
/// counts as a divergence.
public protocol ReconciliationRow {
  /// The text in `column` (exact decimals are text), or nil.
  func text(_ column: String) -> String?
  /// The integer in `column`, or nil.
  func integer(_ column: String) -> Int64?
}

extension LedgerRecord: ReconciliationRow {}

extension Row: ReconciliationRow {
  public func text(_ column: String) -> String? { self[column] }
  public func integer(_ column: String) -> Int64? { self[column] }
}

/// The fields of one ledger row that differ from the platform's record:
/// (column, ledger value, platform value).
public struct ReconciliationFieldCheck: Sendable {
  public private(set) var fields: [(String, String?, String?)] = []

  mutating func exact<T: Equatable>(_ field: String, ledger: T?, platform: T) {
    if ledger != platform { fields.append((field, ledger.map { "\($0)" }, "\(platform)")) }
  }

  /// Money and prices compare as exact decimals: "12.50" equals 12.5.
  mutating func decimal(_ field: String, ledger: String?, platform: ExactDecimal) {
    if ledger.flatMap({ ExactDecimal($0) }) != platform { fields.append((field, ledger, platform.description)) }
  }
}

/// What reconciliation compares, per platform record, against the ledger's row
/// (nil: the ledger has no row, so nothing to compare field by field).
public enum ReconciliationRules {
  public static func account(_ row: (some ReconciliationRow)?, _ user: User) -> ReconciliationFieldCheck {
    var check = ReconciliationFieldCheck()
    guard let row else { return check }
    check.decimal("balance", ledger: row.text("balance"), platform: user.balance)
    check.decimal("credit", ledger: row.text("credit"), platform: user.credit)
    check.exact("group", ledger: row.text("group"), platform: user.group)
    check.exact("deleted", ledger: row.integer("deleted"), platform: 0)
    return check
  }

  public static func position(_ row: (some ReconciliationRow)?, _ p: Position) -> ReconciliationFieldCheck {
    var check = ReconciliationFieldCheck()
    guard let row else { return check }
    check.exact("login", ledger: row.integer("login"), platform: Int64(truncatingIfNeeded: p.login))
    check.exact("symbol", ledger: row.text("symbol"), platform: p.symbol)
    check.exact("action", ledger: row.integer("action"), platform: Int64(p.action.rawValue))
    check.exact("volume_ext", ledger: row.integer("volume_ext"), platform: Int64(truncatingIfNeeded: p.volumeExt))
    check.decimal("price_open", ledger: row.text("price_open"), platform: p.priceOpen)
    check.decimal("storage", ledger: row.text("storage"), platform: p.storage)
    return check
  }

  public static func deal(_ row: (some ReconciliationRow)?, _ d: Deal) -> ReconciliationFieldCheck {
    var check = ReconciliationFieldCheck()
    guard let row else { return check }
    check.exact("login", ledger: row.integer("login"), platform: Int64(truncatingIfNeeded: d.login))
    check.exact("order", ledger: row.integer("order"), platform: Int64(truncatingIfNeeded: d.order))
    check.exact("position_id", ledger: row.integer("position_id"), platform: Int64(truncatingIfNeeded: d.positionId))
    check.exact("action", ledger: row.integer("action"), platform: Int64(d.action.rawValue))
    check.exact("entry", ledger: row.integer("entry"), platform: Int64(d.entry.rawValue))
    check.exact("symbol", ledger: row.text("symbol"), platform: d.symbol)
    check.decimal("price", ledger: row.text("price"), platform: d.price)
    check.exact("volume_ext", ledger: row.integer("volume_ext"), platform: Int64(truncatingIfNeeded: d.volumeExt))
    check.decimal("profit", ledger: row.text("profit"), platform: d.profit)
    check.decimal("commission", ledger: row.text("commission"), platform: d.commission)
    check.decimal("storage", ledger: row.text("storage"), platform: d.storage)
    check.decimal("fee", ledger: row.text("fee"), platform: d.fee)
    check.exact("time_msc", ledger: row.integer("time_msc"), platform: d.time.brokerMilliseconds)
    check.exact("comment", ledger: row.text("comment"), platform: d.comment)
    check.exact("deleted", ledger: row.integer("deleted"), platform: 0)
    return check
  }

  /// MT4: balance and credit records have no prices; sl/tp only matter while open.
  public static func trade(_ row: (some ReconciliationRow)?, _ t: Trade) -> ReconciliationFieldCheck {
    var check = ReconciliationFieldCheck()
    guard let row else { return check }
    let isMoney = t.command == .balance || t.command == .credit
    check.exact("login", ledger: row.integer("login"), platform: Int64(t.login))
    check.exact("symbol", ledger: row.text("symbol"), platform: t.symbol)
    check.exact("cmd", ledger: row.integer("cmd"), platform: Int64(t.command.rawValue))
    check.exact("volume", ledger: row.integer("volume"), platform: Int64(t.volume))
    check.exact("comment", ledger: row.text("comment"), platform: t.comment)
    if !isMoney { check.decimal("open_price", ledger: row.text("open_price"), platform: t.openPrice) }
    check.exact("close_time", ledger: row.integer("close_time"), platform: (t.closeTime?.brokerMilliseconds ?? 0) / 1000)
    if t.closeTime != nil, !isMoney { check.decimal("close_price", ledger: row.text("close_price"), platform: t.closePrice) }
    if t.closeTime == nil {
      check.decimal("sl", ledger: row.text("sl"), platform: t.sl)
      check.decimal("tp", ledger: row.text("tp"), platform: t.tp)
    }
    check.decimal("commission", ledger: row.text("commission"), platform: t.commission)
    check.decimal("storage", ledger: row.text("storage"), platform: t.storage)
    check.decimal("profit", ledger: row.text("profit"), platform: t.profit)
    return check
  }
}
