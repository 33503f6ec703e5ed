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

  static func missingAndUnexpected(_ subject: LedgerDivergence.Subject, platform: [Int64], ledger: some Collection<Int64>)
    -> [LedgerDivergence]
  {
    let platformKeys = Set(platform)
    var result: [LedgerDivergence] = []
    let ledgerKeys = Set(ledger)
    for key in platform where !ledgerKeys.contains(key) {
      result.append(LedgerDivergence(subject: subject, key: key, field: "missing", ledgerValue: nil, platformValue: nil))
    }
    for key in ledgerKeys.sorted() where !platformKeys.contains(key) {
      result.append(LedgerDivergence(subject: subject, key: key, field: "unexpected", ledgerValue: nil, platformValue: nil))
    }
    return result
  }

  static func compareAccounts(_ accounts: [PlatformState.Account], _ records: [LedgerRecord]) -> [LedgerDivergence] {
    let rows = keyed(records, by: "login")
    var result = missingAndUnexpected(.account, platform: accounts.map(\.login), ledger: rows.keys)
    for account in accounts {
      guard let row = rows[account.login] else { continue }
      var check = LedgerFieldCheck()
      check.decimal("balance", ledger: row.text("balance"), platform: account.balance)
      check.decimal("credit", ledger: row.text("credit"), platform: account.credit)
      result += check.divergences(.account, key: account.login)
    }
    return result
  }

  static func compareDeals(_ deals: [PlatformState.Deal], _ records: [LedgerRecord]) -> [LedgerDivergence] {
    let rows = keyed(records, by: "deal")
    var result = missingAndUnexpected(.deal, platform: deals.map(\.deal), ledger: rows.keys)
    for deal in deals {
      guard let row = rows[deal.deal] else { continue }
      var check = LedgerFieldCheck()
      check.exact("login", ledger: row.integer("login"), platform: deal.login)
      check.exact("order", ledger: row.integer("order"), platform: deal.order)
      check.exact("position_id", ledger: row.integer("position_id"), platform: deal.position_id)
      check.exact("action", ledger: row.integer("action"), platform: Int64(deal.action))
      check.exact("entry", ledger: row.integer("entry"), platform: Int64(deal.entry))
      check.exact("symbol", ledger: row.text("symbol"), platform: deal.symbol)
      check.decimal("price", ledger: row.text("price"), platform: deal.price)
      check.exact("volume_ext", ledger: row.integer("volume_ext"), platform: deal.volume_ext)
      check.decimal("profit", ledger: row.text("profit"), platform: deal.profit)
      check.decimal("commission", ledger: row.text("commission"), platform: deal.commission)
      check.decimal("storage", ledger: row.text("storage"), platform: deal.storage)
      check.decimal("fee", ledger: row.text("fee"), platform: deal.fee)
      check.exact("time_msc", ledger: row.integer("time_msc"), platform: deal.time_msc)
      if let comment = deal.comment { check.exact("comment", ledger: row.text("comment"), platform: comment) }
      result += check.divergences(.deal, key: deal.deal)
    }
    return result
  }

  static func comparePositions(_ positions: [PlatformState.Position], _ records: [LedgerRecord]) -> [LedgerDivergence] {
    let rows = keyed(records, by: "position")
    var result = missingAndUnexpected(.position, platform: positions.map(\.position), ledger: rows.keys)
    for position in positions {
      guard let row = rows[position.position] else { continue }
      var check = LedgerFieldCheck()
      check.exact("login", ledger: row.integer("login"), platform: position.login)
      check.exact("symbol", ledger: row.text("symbol"), platform: position.symbol)
      check.exact("action", ledger: row.integer("action"), platform: Int64(position.action))
      check.exact("volume_ext", ledger: row.integer("volume_ext"), platform: position.volume_ext)
      check.decimal("price_open", ledger: row.text("price_open"), platform: position.price_open)
      check.decimal("storage", ledger: row.text("storage"), platform: position.storage)
      result += check.divergences(.position, key: position.position)
    }
    return result
  }

  /// MT4: open trades (`is_open = 1`) or history (closed trades, balance and credit records).
  static func compareTrades(_ trades: [PlatformState.Trade], _ records: [LedgerRecord], open: Bool) -> [LedgerDivergence] {
    let subject: LedgerDivergence.Subject = open ? .trade : .history
    let rows = keyed(records, by: "ticket")
    var result = missingAndUnexpected(subject, platform: trades.map(\.ticket), ledger: rows.keys)
    for trade in trades {
      guard let row = rows[trade.ticket] else { continue }
      var check = LedgerFieldCheck()
      check.exact("login", ledger: row.integer("login"), platform: trade.login)
      check.exact("symbol", ledger: row.text("symbol"), platform: trade.symbol)
      check.exact("cmd", ledger: row.integer("cmd"), platform: Int64(trade.cmd))
      check.exact("volume", ledger: row.integer("volume"), platform: trade.volume)
      check.exact("comment", ledger: row.text("comment"), platform: trade.comment)
      if trade.cmd != 6, trade.cmd != 7 { check.decimal("open_price", ledger: row.text("open_price"), platform: trade.open_price) }
      if let close = trade.close_price, !open, trade.cmd < 6 { check.decimal("close_price", ledger: row.text("close_price"), platform: close) }
      if let sl = trade.sl, open { check.decimal("sl", ledger: row.text("sl"), platform: sl) }
      if let tp = trade.tp, open { check.decimal("tp", ledger: row.text("tp"), platform: tp) }
      check.decimal("commission", ledger: row.text("commission"), platform: trade.commission)
      check.decimal("storage", ledger: row.text("storage"), platform: trade.storage)
      check.decimal("profit", ledger: row.text("profit"), platform: trade.profit)
      result += check.divergences(subject, key: trade.ticket)
    }
    return result
  }
}
