// The ledger's rules live in TradeTapLedgerCore (the planner, the batch and commit
// types); this module executes them on SQLite. Re-exported so that users of the
// ledger see one API.
@_exported import TradeTapLedgerCore
