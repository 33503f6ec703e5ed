import GRDB
import TradeTapLedgerCore

// Reconciliation compares through the core's rules (LedgerComparison.swift); these
// make the ledger's rows readable by them.

extension LedgerRecord: ReconciliationRow {}

extension Row: ReconciliationRow {
  public func text(_ column: String) -> String? { self[column] }
  public func integer(_ column: String) -> Int64? { self[column] }
}
