import TradeTapLedger

/// Renders the drop copy's application messages from the ledger (docs/fix.md): one
/// ExecutionReport (35=8) per trade deal, rendered again, identically but for the
/// header, when a ResendRequest asks for it.
///
/// | change kind | report |
/// |---|---|
/// | `deal_add` of a buy or sell (MT5 action 0, 1) | ExecType F, ExecID `<server>-<deal>` |
/// | `deal_update` of one | ExecType G, ExecID `<server>-<deal>-<change id>`, ExecRefID `<server>-<deal>` |
/// | `deal_delete` of one | ExecType H, likewise |
/// | `trade_add` of a buy or sell (MT4 cmd 0, 1), or `trade_update` mode 1 (a pending order activated) | ExecType F, ExecID `<server>-<ticket>` |
///
/// A report's values are the ledger's when it is numbered; its body is kept with its
/// number (`fix_reports`), so a resend is identical to the first send.
///
/// Prices and quantities are the ledger's exact decimal text (never binary floating point).
struct FIXReports: Sendable {
  let ledger: any LedgerStore

  /// The report's body fields (after the standard header), or nil when the change is not
  /// a trade deal (a balance operation, an order, an account...).
  func report(for change: LedgerRecord) async throws -> [(tag: Int, value: String)]? {
    guard let kind = change.text("kind"), let serverId = change.integer("server_id"),
      let summary = change.text("summary")
    else { return nil }
    let words = summary.split(separator: " ")
    guard words.count >= 2, let id = Int64(words[1]) else { return nil }
    let changeId = change.integer("id") ?? 0
    /// A number the summary gives after `name` (`action 0`, `cmd 4`, `mode 1`): the
    /// event's own value, where the ledger row holds the latest state.
    func eventValue(_ name: Substring) -> Substring? {
      words.firstIndex(of: name).flatMap { $0 + 1 < words.count ? words[$0 + 1] : nil }
    }
    switch kind {
    case "deal_add", "deal_update", "deal_delete":
      guard words[0] == "deal", let action = eventValue("action").flatMap({ Int64($0) }), action == 0 || action == 1,
        let deal = try await ledger.fixDeal(serverId: serverId, deal: id)
      else { return nil }
      let execType = kind == "deal_add" ? "F" : kind == "deal_update" ? "G" : "H"
      return Self.executionReport(
        serverId: serverId, key: id, changeId: changeId, execType: execType, orderId: deal.integer("order") ?? 0,
        buy: action == 0, quantity: Self.decimal(deal.integer("volume_ext") ?? 0, scale: 8),
        price: deal.text("price") ?? "0", symbol: deal.text("symbol") ?? "", login: deal.integer("login") ?? 0,
        timeUtc: deal.text("time_utc") ?? "")
    case "trade_add", "trade_update":
      // An MT4 ticket is filled when it is added as a market trade, or when a pending
      // order is activated (on_trade_update mode 1): `... cmd C mode M ...` in the summary.
      if kind == "trade_update" { guard eventValue("mode") == "1" else { return nil } }
      guard words[0] == "trade", let cmd = eventValue("cmd").flatMap({ Int64($0) }), cmd == 0 || cmd == 1,
        let trade = try await ledger.fixTrade(serverId: serverId, ticket: id)
      else { return nil }
      return Self.executionReport(
        serverId: serverId, key: id, changeId: changeId, execType: "F", orderId: id, buy: cmd == 0,
        quantity: Self.decimal(trade.integer("volume") ?? 0, scale: 2), price: trade.text("open_price") ?? "0",
        symbol: trade.text("symbol") ?? "", login: trade.integer("login") ?? 0, timeUtc: trade.text("open_time_utc") ?? "")
    default:
      return nil
    }
  }

  static func executionReport(
    serverId: Int64, key: Int64, changeId: Int64, execType: String, orderId: Int64, buy: Bool, quantity: String,
    price: String, symbol: String, login: Int64, timeUtc: String
  ) -> [(tag: Int, value: String)] {
    let tradeId = "\(serverId)-\(key)"
    var fields: [(tag: Int, value: String)] = [
      (FIXTag.orderID, String(orderId)),
      (FIXTag.execID, execType == "F" ? tradeId : "\(tradeId)-\(changeId)"),
    ]
    if execType != "F" { fields.append((FIXTag.execRefID, tradeId)) }
    fields += [
      (FIXTag.execType, execType),
      (FIXTag.ordStatus, "2"),  // Filled
      (FIXTag.account, String(login)),
      (FIXTag.symbol, symbol.isEmpty ? "?" : Self.printable(symbol)),
      (FIXTag.side, buy ? "1" : "2"),
      (FIXTag.lastQty, quantity),
      (FIXTag.lastPx, price),
      (FIXTag.leavesQty, "0"),
      (FIXTag.cumQty, quantity),
      (FIXTag.avgPx, price),
      (FIXTag.transactTime, FIXTime.timestamp(utc: timeUtc)),
      (FIXTag.tradeTapServerID, String(serverId)),
    ]
    return fields
  }

  /// `tag=value` fields, SOH-terminated: how a body is kept in `fix_reports`.
  static func text(_ fields: [(tag: Int, value: String)]) -> String {
    fields.map { "\($0.tag)=\($0.value)\u{1}" }.joined()
  }

  /// `text` without control characters (a FIX value never holds SOH).
  static func printable(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
  }

  /// `units / 10^scale` as exact decimal text without trailing zeros (`10000000`, 8 → `0.1`).
  static func decimal(_ units: Int64, scale: Int) -> String {
    let negative = units < 0
    var digits = String(units.magnitude)
    if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
    var whole = String(digits.dropLast(scale))
    var fraction = String(digits.suffix(scale))
    while fraction.hasSuffix("0") { fraction.removeLast() }
    if whole.isEmpty { whole = "0" }
    return (negative ? "-" : "") + whole + (fraction.isEmpty ? "" : "." + fraction)
  }
}
