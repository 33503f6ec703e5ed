/// One way the ledger differs from the platform.
public struct Divergence: Sendable, Equatable, CustomStringConvertible {
  public enum Subject: String, Sendable { case account, deal, position, trade, history }

  public var subject: Subject
  /// Login, deal, position or ticket.
  public var key: Int64
  /// The field that differs, or `missing` / `unexpected` for a whole row.
  public var field: String
  public var platform: String
  public var ledger: String

  /// `account 10001 balance: platform 100.00, ledger 99.00`
  public var description: String {
    switch field {
    case "missing": "\(subject.rawValue) \(key): on the platform, missing from the ledger"
    case "unexpected": "\(subject.rawValue) \(key): in the ledger, not on the platform"
    default: "\(subject.rawValue) \(key) \(field): platform \(platform), ledger \(ledger)"
    }
  }
}

/// The outcome of a verification.
public struct VerifyReport: Sendable {
  public var accounts: Int
  /// MT5 deals, or MT4 history records (closed trades, balance and credit operations).
  public var deals: Int
  /// MT5 open positions, or MT4 open trades and pending orders.
  public var positions: Int
  public var divergences: [Divergence]

  /// `verify: A accounts, D deals, P positions, N divergences`
  public var summary: String {
    "verify: \(accounts) accounts, \(deals) deals, \(positions) positions, \(divergences.count) divergences"
  }
}
