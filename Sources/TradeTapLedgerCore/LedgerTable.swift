/// The ledger's tables, by schema name.
public enum LedgerTable: String, Sendable, CaseIterable {
  case servers, accounts, deals, orders, positions, trades, events, quarantine, gaps, changes
  case balanceOperations = "balance_operations"
  case positionClosures = "position_closures"
  case reconciliationSweeps = "reconciliation_sweeps"
  case reconciliationDivergences = "reconciliation_divergences"
  /// CRM commands (docs/commands.md) and their audit rows.
  case commands
  case commandAudit = "command_audit"
  /// Each output's delivered point and its refused batches (docs/outputs.md).
  case outputCursors = "output_cursors"
  case outputDeadLetters = "output_dead_letters"
}
