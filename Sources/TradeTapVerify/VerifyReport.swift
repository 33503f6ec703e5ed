import TradeTapLedger

/// The outcome of a verification.
public struct VerifyReport: Sendable {
  public var accounts: Int
  /// MT5 deals, or MT4 history records (closed trades, balance and credit operations).
  public var deals: Int
  /// MT5 open positions, or MT4 open trades and pending orders.
  public var positions: Int
  /// The core's ``LedgerDivergence`` (correction `.reported`): the same type a sweep records.
  public var divergences: [LedgerDivergence]

  /// `verify: A accounts, D deals, P positions, N divergences`
  public var summary: String {
    "verify: \(accounts) accounts, \(deals) deals, \(positions) positions, \(divergences.count) divergences"
  }
}
