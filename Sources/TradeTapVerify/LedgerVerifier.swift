import Foundation
import GRDB
import TradeTapLedger

/// Compares a trade server's state with the ledger, account by account to the
/// cent (balance and credit), deal by deal, position by position (MT4: open trades
/// and history records), with plain SQL on the ledger's public schema
/// (docs/ledger.md). Rows the ledger marks deleted are not counted.
public enum LedgerVerifier {
  /// Opens `sqlite:PATH` read-only (a `postgres://` ledger is opened by the caller
  /// as a `LedgerStore`, see ``verify(_:store:serverID:)``).
  /// - Throws: `VerifyError` for another scheme or a missing file.
  public static func openLedger(url: String) throws -> DatabasePool {
    let path: String
    switch LedgerLocation(url) {
    case .postgres: throw VerifyError.unsupportedDatabase("open PostgreSQL ledgers with PostgresLedger.open(url:)")
    case .sqlite(let file): path = file
    case nil: throw VerifyError.unsupportedDatabase("\(url) is not sqlite:PATH or postgres://...")
    }
    guard FileManager.default.fileExists(atPath: path) else { throw VerifyError.unreadableLedger("no ledger at \(path)") }
    var configuration = Configuration()
    configuration.readonly = true
    do {
      return try DatabasePool(path: path, configuration: configuration)
    } catch {
      throw VerifyError.unreadableLedger("cannot open \(path): \(error)")
    }
  }

  /// Compares `state` with the ledger rows of `serverID` (default: the state's).
  public static func verify(_ state: PlatformState, ledger: some DatabaseReader, serverID: Int64? = nil) throws
    -> VerifyReport
  {
    let server = serverID ?? state.server_id
    do {
      let rows = try ledger.read { db in
        var rows: [VerificationSet: [LedgerRecord]] = [:]
        for set in VerificationSet.allCases {
          rows[set] = try Row.fetchAll(db, sql: VerificationQueries.sql(set, money: { $0 }) + " = ?", arguments: [server])
            .map(LedgerRecord.init(row:))
        }
        return rows
      }
      return compare(state, rows: { rows[$0] ?? [] })
    } catch let error as DatabaseError {
      throw VerifyError.unreadableLedger("\(error.message ?? "\(error)") (is this a TradeTap ledger?)")
    }
  }

  /// Compares `state` with a ledger on any backend (`sqlite:` or `postgres://`).
  public static func verify(_ state: PlatformState, store: any LedgerStore, serverID: Int64? = nil) async throws
    -> VerifyReport
  {
    let server = serverID ?? state.server_id
    var rows: [VerificationSet: [LedgerRecord]] = [:]
    do {
      for set in VerificationSet.allCases { rows[set] = try await store.verificationRows(set, serverId: server) }
    } catch {
      throw VerifyError.unreadableLedger("\(error) (is this a TradeTap ledger?)")
    }
    return compare(state, rows: { rows[$0] ?? [] })
  }

  static func compare(_ state: PlatformState, rows: (VerificationSet) -> [LedgerRecord]) -> VerifyReport {
    var divergences = compareAccounts(state.accounts, rows(.accounts))
    if state.platform == "mt4" {
      let open = state.trades ?? []
      // Deleted pending orders are history on the platform and flagged deleted in the ledger.
      let history = (state.history ?? []).filter { !(2...5).contains($0.cmd) }
      divergences += compareTrades(open, rows(.openTrades), open: true)
      divergences += compareTrades(history, rows(.historyTrades), open: false)
      return VerifyReport(accounts: state.accounts.count, deals: history.count, positions: open.count,
                          divergences: divergences)
    }
    let deals = state.deals ?? [], positions = state.positions ?? []
    divergences += compareDeals(deals, rows(.deals))
    divergences += comparePositions(positions, rows(.positions))
    return VerifyReport(accounts: state.accounts.count, deals: deals.count, positions: positions.count,
                        divergences: divergences)
  }

  static func keyed(_ records: [LedgerRecord], by key: String) -> [Int64: LedgerRecord] {
    var rows: [Int64: LedgerRecord] = [:]
    for record in records { if let id = record.integer(key) { rows[id] = record } }
    return rows
  }

  /// Decimal text compared by value (`1.5` equals `1.50`).
  static func sameDecimal(_ a: String, _ b: String) -> Bool {
    if a == b { return true }
    guard let x = Decimal(string: a, locale: Locale(identifier: "en_US_POSIX")),
      let y = Decimal(string: b, locale: Locale(identifier: "en_US_POSIX"))
    else { return false }
    return x == y
  }

  /// Collects field differences of one row.
  struct FieldCheck {
    var subject: Divergence.Subject
    var key: Int64
    var found: [Divergence] = []

    mutating func decimal(_ field: String, _ platform: String, _ ledger: String?) {
      let ledgerText = ledger ?? "NULL"
      if !LedgerVerifier.sameDecimal(platform, ledgerText) {
        found.append(Divergence(subject: subject, key: key, field: field, platform: platform, ledger: ledgerText))
      }
    }

    mutating func exact<T: Equatable & CustomStringConvertible>(_ field: String, _ platform: T, _ ledger: T?) {
      if ledger != platform {
        found.append(Divergence(subject: subject, key: key, field: field, platform: platform.description,
                                ledger: ledger.map(\.description) ?? "NULL"))
      }
    }
  }

  static func missingAndUnexpected(_ subject: Divergence.Subject, platform: [Int64], ledger: some Collection<Int64>)
    -> [Divergence]
  {
    let platformKeys = Set(platform)
    var result: [Divergence] = []
    let ledgerKeys = Set(ledger)
    for key in platform where !ledgerKeys.contains(key) {
      result.append(Divergence(subject: subject, key: key, field: "missing", platform: "", ledger: ""))
    }
    for key in ledgerKeys.sorted() where !platformKeys.contains(key) {
      result.append(Divergence(subject: subject, key: key, field: "unexpected", platform: "", ledger: ""))
    }
    return result
  }

  static func compareAccounts(_ accounts: [PlatformState.Account], _ records: [LedgerRecord]) -> [Divergence] {
    let rows = keyed(records, by: "login")
    var result = missingAndUnexpected(.account, platform: accounts.map(\.login), ledger: rows.keys)
    for account in accounts {
      guard let row = rows[account.login] else { continue }
      var check = FieldCheck(subject: .account, key: account.login)
      check.decimal("balance", account.balance, row.text("balance"))
      check.decimal("credit", account.credit, row.text("credit"))
      result += check.found
    }
    return result
  }

  static func compareDeals(_ deals: [PlatformState.Deal], _ records: [LedgerRecord]) -> [Divergence] {
    let rows = keyed(records, by: "deal")
    var result = missingAndUnexpected(.deal, platform: deals.map(\.deal), ledger: rows.keys)
    for deal in deals {
      guard let row = rows[deal.deal] else { continue }
      var check = FieldCheck(subject: .deal, key: deal.deal)
      check.exact("login", deal.login, row.integer("login"))
      check.exact("order", deal.order, row.integer("order"))
      check.exact("position_id", deal.position_id, row.integer("position_id"))
      check.exact("action", Int64(deal.action), row.integer("action"))
      check.exact("entry", Int64(deal.entry), row.integer("entry"))
      check.exact("symbol", deal.symbol, row.text("symbol"))
      check.decimal("price", deal.price, row.text("price"))
      check.exact("volume_ext", deal.volume_ext, row.integer("volume_ext"))
      check.decimal("profit", deal.profit, row.text("profit"))
      check.decimal("commission", deal.commission, row.text("commission"))
      check.decimal("storage", deal.storage, row.text("storage"))
      check.decimal("fee", deal.fee, row.text("fee"))
      check.exact("time_msc", deal.time_msc, row.integer("time_msc"))
      if let comment = deal.comment { check.exact("comment", comment, row.text("comment")) }
      result += check.found
    }
    return result
  }

  static func comparePositions(_ positions: [PlatformState.Position], _ records: [LedgerRecord]) -> [Divergence] {
    let rows = keyed(records, by: "position")
    var result = missingAndUnexpected(.position, platform: positions.map(\.position), ledger: rows.keys)
    for position in positions {
      guard let row = rows[position.position] else { continue }
      var check = FieldCheck(subject: .position, key: position.position)
      check.exact("login", position.login, row.integer("login"))
      check.exact("symbol", position.symbol, row.text("symbol"))
      check.exact("action", Int64(position.action), row.integer("action"))
      check.exact("volume_ext", position.volume_ext, row.integer("volume_ext"))
      check.decimal("price_open", position.price_open, row.text("price_open"))
      check.decimal("storage", position.storage, row.text("storage"))
      result += check.found
    }
    return result
  }

  /// MT4: open trades (`is_open = 1`) or history (closed trades, balance and credit records).
  static func compareTrades(_ trades: [PlatformState.Trade], _ records: [LedgerRecord], open: Bool) -> [Divergence] {
    let subject: Divergence.Subject = open ? .trade : .history
    let rows = keyed(records, by: "ticket")
    var result = missingAndUnexpected(subject, platform: trades.map(\.ticket), ledger: rows.keys)
    for trade in trades {
      guard let row = rows[trade.ticket] else { continue }
      var check = FieldCheck(subject: subject, key: trade.ticket)
      check.exact("login", trade.login, row.integer("login"))
      check.exact("symbol", trade.symbol, row.text("symbol"))
      check.exact("cmd", Int64(trade.cmd), row.integer("cmd"))
      check.exact("volume", trade.volume, row.integer("volume"))
      check.exact("comment", trade.comment, row.text("comment"))
      if trade.cmd != 6, trade.cmd != 7 { check.decimal("open_price", trade.open_price, row.text("open_price")) }
      if let close = trade.close_price, !open, trade.cmd < 6 { check.decimal("close_price", close, row.text("close_price")) }
      if let sl = trade.sl, open { check.decimal("sl", sl, row.text("sl")) }
      if let tp = trade.tp, open { check.decimal("tp", tp, row.text("tp")) }
      check.decimal("commission", trade.commission, row.text("commission"))
      check.decimal("storage", trade.storage, row.text("storage"))
      check.decimal("profit", trade.profit, row.text("profit"))
      result += check.found
    }
    return result
  }
}
