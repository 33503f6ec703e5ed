// Compares a trade server's state with the ledger.
