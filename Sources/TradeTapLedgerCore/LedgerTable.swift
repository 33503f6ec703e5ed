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
  /// The gateway model (docs/gateway.md): each gateway's requests, answers and executions.
  case gatewayRequests = "gateway_requests"
  case gatewayAnswers = "gateway_answers"
  case executions
}
