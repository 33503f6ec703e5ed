import TradeTapLedger

/// Splits a ledger commit's totals per trade server (the ledger reports one total).
enum CommitAccounting {
  /// Events of each server that the commit applied.
  ///
  /// One server in the commit (the usual case): the ledger's total is exact. Several:
  /// each server's events above its durable sequence before the commit, counted in
  /// batch order the way the ledger applies them (an event at or below the last
  /// applied sequence is a duplicate). Exact while this collector is the ledger's only
  /// writer, which the single `GroupCommitter` guarantees.
  static func appliedPerServer(_ batches: [LedgerBatch], before: [UInt32: UInt64], result: LedgerCommit)
    -> [UInt32: Int]
  {
    guard let first = batches.first?.serverId else { return [:] }
    if batches.allSatisfy({ $0.serverId == first }) { return [first: result.appliedEvents] }
    var applied: [UInt32: Int] = [:]
    var last = before
    for batch in batches {
      let server = batch.serverId
      for event in batch.events where event.serverId == server && event.sequence > (last[server] ?? 0) {
        applied[server, default: 0] += 1
        last[server] = event.sequence
      }
    }
    return applied
  }
}
