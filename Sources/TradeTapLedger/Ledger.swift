// Ledger.
