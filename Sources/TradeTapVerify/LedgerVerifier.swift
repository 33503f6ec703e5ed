import Foundation
import GRDB

/// Compares a trade server's state with the ledger, account by account to the
/// cent (balance and credit), deal by deal, position by position (MT4: open trades
/// and history records), with plain SQL on the ledger's public schema
/// (docs/ledger.md). Rows the ledger marks deleted are not counted.
public enum LedgerVerifier {
  /// Opens `sqlite:PATH` read-only.
  /// - Throws: `VerifyError` for another scheme or a missing file.
  public static func openLedger(url: String) throws -> DatabasePool {
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
      throw VerifyError.unsupportedDatabase("PostgreSQL ledgers are not supported by verify yet; use sqlite:PATH")
    }
    guard url.hasPrefix("sqlite:") else {
      throw VerifyError.unsupportedDatabase("\(url) is not sqlite:PATH or postgres://...")
    }
    let path = String(url.dropFirst("sqlite:".count))
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
      return try ledger.read { db in
        var divergences = try compareAccounts(state.accounts, db, server)
        if state.platform == "mt4" {
          let open = state.trades ?? []
          // Deleted pending orders are history on the platform and flagged deleted in the ledger.
          let history = (state.history ?? []).filter { !(2...5).contains($0.cmd) }
          divergences += try compareTrades(open, db, server, open: true)
          divergences += try compareTrades(history, db, server, open: false)
          return VerifyReport(accounts: state.accounts.count, deals: history.count, positions: open.count,
                              divergences: divergences)
        }
        let deals = state.deals ?? [], positions = state.positions ?? []
        divergences += try compareDeals(deals, db, server)
        divergences += try comparePositions(positions, db, server)
        return VerifyReport(accounts: state.accounts.count, deals: deals.count, positions: positions.count,
                            divergences: divergences)
      }
    } catch let error as DatabaseError {
      throw VerifyError.unreadableLedger("\(error.message ?? "\(error)") (is this a TradeTap ledger?)")
    }
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

  static func compareAccounts(_ accounts: [PlatformState.Account], _ db: Database, _ server: Int64) throws
    -> [Divergence]
  {
    var rows: [Int64: Row] = [:]
    for row in try Row.fetchAll(db, sql: """
      SELECT login, balance, credit FROM accounts WHERE server_id = ? AND deleted = 0
      """, arguments: [server]) {
      rows[row["login"]] = row
    }
    var result = missingAndUnexpected(.account, platform: accounts.map(\.login), ledger: rows.keys)
    for account in accounts {
      guard let row = rows[account.login] else { continue }
      var check = FieldCheck(subject: .account, key: account.login)
      check.decimal("balance", account.balance, row["balance"])
      check.decimal("credit", account.credit, row["credit"])
      result += check.found
    }
    return result
  }

  static func compareDeals(_ deals: [PlatformState.Deal], _ db: Database, _ server: Int64) throws -> [Divergence] {
    var rows: [Int64: Row] = [:]
    for row in try Row.fetchAll(db, sql: """
      SELECT deal, login, "order", position_id, action, entry, symbol, price, volume_ext, profit, commission,
             storage, fee, time_msc, comment
      FROM deals WHERE server_id = ? AND deleted = 0
      """, arguments: [server]) {
      rows[row["deal"]] = row
    }
    var result = missingAndUnexpected(.deal, platform: deals.map(\.deal), ledger: rows.keys)
    for deal in deals {
      guard let row = rows[deal.deal] else { continue }
      var check = FieldCheck(subject: .deal, key: deal.deal)
      check.exact("login", deal.login, row["login"])
      check.exact("order", deal.order, row["order"])
      check.exact("position_id", deal.position_id, row["position_id"])
      check.exact("action", deal.action, row["action"])
      check.exact("entry", deal.entry, row["entry"])
      check.exact("symbol", deal.symbol, row["symbol"])
      check.decimal("price", deal.price, row["price"])
      check.exact("volume_ext", deal.volume_ext, row["volume_ext"])
      check.decimal("profit", deal.profit, row["profit"])
      check.decimal("commission", deal.commission, row["commission"])
      check.decimal("storage", deal.storage, row["storage"])
      check.decimal("fee", deal.fee, row["fee"])
      check.exact("time_msc", deal.time_msc, row["time_msc"])
      if let comment = deal.comment { check.exact("comment", comment, row["comment"]) }
      result += check.found
    }
    return result
  }

  static func comparePositions(_ positions: [PlatformState.Position], _ db: Database, _ server: Int64) throws
    -> [Divergence]
  {
    var rows: [Int64: Row] = [:]
    for row in try Row.fetchAll(db, sql: """
      SELECT position, login, symbol, action, volume_ext, price_open, storage FROM positions WHERE server_id = ?
      """, arguments: [server]) {
      rows[row["position"]] = row
    }
    var result = missingAndUnexpected(.position, platform: positions.map(\.position), ledger: rows.keys)
    for position in positions {
      guard let row = rows[position.position] else { continue }
      var check = FieldCheck(subject: .position, key: position.position)
      check.exact("login", position.login, row["login"])
      check.exact("symbol", position.symbol, row["symbol"])
      check.exact("action", position.action, row["action"])
      check.exact("volume_ext", position.volume_ext, row["volume_ext"])
      check.decimal("price_open", position.price_open, row["price_open"])
      check.decimal("storage", position.storage, row["storage"])
      result += check.found
    }
    return result
  }

  /// MT4: open trades (`is_open = 1`) or history (closed trades, balance and credit records).
  static func compareTrades(_ trades: [PlatformState.Trade], _ db: Database, _ server: Int64, open: Bool) throws
    -> [Divergence]
  {
    let subject: Divergence.Subject = open ? .trade : .history
    var rows: [Int64: Row] = [:]
    for row in try Row.fetchAll(db, sql: """
      SELECT ticket, login, symbol, cmd, volume, open_price, close_price, sl, tp, commission, storage, profit, comment
      FROM trades WHERE server_id = ? AND deleted = 0 AND is_open = ? AND NOT (cmd BETWEEN 2 AND 5 AND is_open = 0)
      """, arguments: [server, open]) {
      rows[row["ticket"]] = row
    }
    var result = missingAndUnexpected(subject, platform: trades.map(\.ticket), ledger: rows.keys)
    for trade in trades {
      guard let row = rows[trade.ticket] else { continue }
      var check = FieldCheck(subject: subject, key: trade.ticket)
      check.exact("login", trade.login, row["login"])
      check.exact("symbol", trade.symbol, row["symbol"])
      check.exact("cmd", trade.cmd, row["cmd"])
      check.exact("volume", trade.volume, row["volume"])
      check.exact("comment", trade.comment, row["comment"])
      if trade.cmd != 6, trade.cmd != 7 { check.decimal("open_price", trade.open_price, row["open_price"]) }
      if let close = trade.close_price, !open, trade.cmd < 6 { check.decimal("close_price", close, row["close_price"]) }
      if let sl = trade.sl, open { check.decimal("sl", sl, row["sl"]) }
      if let tp = trade.tp, open { check.decimal("tp", tp, row["tp"]) }
      check.decimal("commission", trade.commission, row["commission"])
      check.decimal("storage", trade.storage, row["storage"])
      check.decimal("profit", trade.profit, row["profit"])
      result += check.found
    }
    return result
  }
}
