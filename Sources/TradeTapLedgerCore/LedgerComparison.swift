import TradeTapEvents

// The one comparison of ledger rows with the platform's records: reconciliation's
// sweep (which corrects what differs) and `tradetap verify` (which reports it) both
// compare through these, so they cannot disagree on what counts as a divergence.

/// A field, or a whole row, where the ledger and the platform disagree.
public struct LedgerDivergence: Sendable, Hashable, CustomStringConvertible {
  public enum Subject: String, Sendable, Hashable {
    case account, position, deal, trade
    /// MT4 history records (closed trades, balance and credit), as verify reports them.
    case history
    /// A CRM command whose platform record is missing (docs/commands.md).
    case command
  }
  /// What was done about it (`reconciliation_divergences.correction`).
  public enum Correction: String, Sendable, Hashable {
    /// Found and reported, not corrected (`tradetap verify`).
    case reported
    /// The row was missing: written from the platform record.
    case inserted
    /// The row differed: rewritten from the platform record.
    case updated
    /// An open position the platform no longer has: deleted.
    case removed
    /// An account, deal or trade the platform no longer has: `deleted = 1`.
    case markedDeleted = "marked_deleted"
  }
  public var subject: Subject
  /// The platform identifier: login, position, deal or ticket.
  public var key: Int64
  /// A column name, or `missing` / `unexpected` for a whole row.
  public var field: String
  public var ledgerValue: String?
  public var platformValue: String?
  public var correction: Correction

  public init(
    subject: Subject, key: Int64, field: String, ledgerValue: String?, platformValue: String?,
    correction: Correction = .reported
  ) {
    self.subject = subject
    self.key = key
    self.field = field
    self.ledgerValue = ledgerValue
    self.platformValue = platformValue
    self.correction = correction
  }

  /// `account 10001 balance: platform 100.00, ledger 99.00` (a correction adds `→ updated`).
  public var description: String {
    let what: String
    switch field {
    case "missing": what = "\(subject.rawValue) \(key): on the platform, missing from the ledger"
    case "unexpected": what = "\(subject.rawValue) \(key): in the ledger, not on the platform"
    default: what = "\(subject.rawValue) \(key) \(field): platform \(platformValue ?? "NULL"), ledger \(ledgerValue ?? "NULL")"
    }
    return correction == .reported ? what : "\(what) → \(correction.rawValue)"
  }
}

/// The fields of one ledger row that differ from the platform's record:
/// (column, ledger value, platform value).
public struct LedgerFieldCheck: Sendable {
  public private(set) var fields: [(String, String?, String?)] = []

  public init() {}

  public mutating func exact<T: Equatable>(_ field: String, ledger: T?, platform: T) {
    if ledger != platform { fields.append((field, ledger.map { "\($0)" }, "\(platform)")) }
  }

  /// Money and prices compare as exact decimals: "12.50" equals 12.5.
  public mutating func decimal(_ field: String, ledger: String?, platform: ExactDecimal) {
    if ledger.flatMap({ ExactDecimal($0) }) != platform { fields.append((field, ledger, platform.description)) }
  }

  /// The same for a platform value given as text (a state file): compared as exact
  /// decimals, or as text when either side is not one.
  public mutating func decimal(_ field: String, ledger: String?, platform: String) {
    if let value = ExactDecimal(platform), let ledgerValue = ledger.flatMap({ ExactDecimal($0) }) {
      if ledgerValue != value { fields.append((field, ledger, platform)) }
    } else if ledger != platform {
      fields.append((field, ledger, platform))
    }
  }

  /// The differing fields as divergences of one row.
  public func divergences(
    _ subject: LedgerDivergence.Subject, key: Int64, correction: LedgerDivergence.Correction = .reported
  ) -> [LedgerDivergence] {
    fields.map {
      LedgerDivergence(subject: subject, key: key, field: $0.0, ledgerValue: $0.1, platformValue: $0.2, correction: correction)
    }
  }
}

/// A ledger row as reconciliation reads it. Both backends compare through the same
/// ``ReconciliationRules``, so SQLite and PostgreSQL can never disagree on what
/// counts as a divergence.
public protocol ReconciliationRow {
  /// The text in `column` (exact decimals are text), or nil.
  func text(_ column: String) -> String?
  /// The integer in `column`, or nil.
  func integer(_ column: String) -> Int64?
}

/// What reconciliation compares, per platform record, against the ledger's row
/// (nil: the ledger has no row, so nothing to compare field by field).
public enum ReconciliationRules {
  public static func account(_ row: (some ReconciliationRow)?, _ user: User) -> LedgerFieldCheck {
    var check = LedgerFieldCheck()
    guard let row else { return check }
    check.decimal("balance", ledger: row.text("balance"), platform: user.balance)
    check.decimal("credit", ledger: row.text("credit"), platform: user.credit)
    check.exact("group", ledger: row.text("group"), platform: user.group)
    check.exact("deleted", ledger: row.integer("deleted"), platform: 0)
    return check
  }

  public static func position(_ row: (some ReconciliationRow)?, _ p: Position) -> LedgerFieldCheck {
    var check = LedgerFieldCheck()
    guard let row else { return check }
    check.exact("login", ledger: row.integer("login"), platform: Int64(truncatingIfNeeded: p.login))
    check.exact("symbol", ledger: row.text("symbol"), platform: p.symbol)
    check.exact("action", ledger: row.integer("action"), platform: Int64(p.action.rawValue))
    check.exact("volume_ext", ledger: row.integer("volume_ext"), platform: Int64(truncatingIfNeeded: p.volumeExt))
    check.decimal("price_open", ledger: row.text("price_open"), platform: p.priceOpen)
    check.decimal("storage", ledger: row.text("storage"), platform: p.storage)
    return check
  }

  public static func deal(_ row: (some ReconciliationRow)?, _ d: Deal) -> LedgerFieldCheck {
    var check = LedgerFieldCheck()
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
  public static func trade(_ row: (some ReconciliationRow)?, _ t: Trade) -> LedgerFieldCheck {
    var check = LedgerFieldCheck()
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
