/// A ledger backend: the SQLite ledger (``Ledger``) or the PostgreSQL one
/// (`TradeTapLedgerPostgres.PostgresLedger`). Exactly what the collector (group
/// commit, resume points, connection state), the CRM API, the reconciler and
/// `tradetap verify` need; both backends keep the same schema, constraints and
/// exactly-once semantics (docs/ledger.md).
///
/// The writer side blocks (SQLite commits block; PostgreSQL's are awaited on the
/// calling thread): call it from the group committer's thread or a thread pool,
/// never from an event loop or a Swift concurrency task. The read side is async.
public protocol LedgerStore: AnyObject, Sendable {
  /// `sqlite` or `postgres`, for logs.
  var backendName: String { get }

  // MARK: Writer

  /// Group commit: every batch (of any servers, in order per server) and every
  /// reported gap in one transaction. Idempotent: sequences already durable change nothing.
  func commit(_ batches: [LedgerBatch], reportedGaps: [ReportedGap]) throws -> LedgerCommit
  /// The highest durable sequence of `serverId` (0 for a server never seen).
  func durableSequence(serverId: UInt32) throws -> UInt64
  /// A trade server connected and authenticated (fills or updates its `servers` row).
  func recordConnection(serverId: UInt32, name: String?, platform: Int?, utcOffsetMinutes: Int32?) throws
  /// A trade server's connection ended.
  func recordDisconnection(serverId: UInt32) throws
  /// `servers.platform` (4 or 5), when known.
  func platform(serverId: UInt32) throws -> Int?
  /// Compares a platform snapshot with the ledger, records divergences and corrects
  /// (``LedgerWriter/reconcile(_:caughtUpThrough:startedUtc:mode:)``), or holds a sweep
  /// over its deletion limit; nil when the ledger is not yet durable through `caughtUpThrough`.
  /// - Throws: ``HeldSweepError`` when `mode` applies a sweep that is unknown or not held.
  func reconcile(
    _ snapshot: PlatformSnapshot, caughtUpThrough: UInt64, startedUtc: String?, mode: ReconciliationMode
  ) throws -> ReconciliationOutcome?
  /// `reconciliation_sweeps.status` of sweep `id` (`applied`, `held`, `superseded`), nil when unknown.
  func reconciliationSweepStatus(id: Int64) throws -> String?

  // MARK: Commands (CRM → platform, docs/commands.md)

  /// Admits a CRM command: new key → the command and its audit row, committed
  /// durably before this returns (``CommandAdmission/accepted(_:)``); a known key with
  /// the same body hash → that command (``CommandAdmission/repeated(_:)``); another
  /// body hash → ``CommandAdmission/conflict(_:)``, nothing written.
  func submitCommand(_ submission: CommandSubmission) async throws -> CommandAdmission
  /// One command, or nil.
  func command(id: Int64) async throws -> LedgerCommand?
  /// The command an `Idempotency-Key` names, or nil (a retry is answered before it is validated again).
  func command(idempotencyKey: String) async throws -> LedgerCommand?
  /// `serverId`'s commands that are not final (pending, sent, unknown), oldest first, at most `limit`.
  func unfinishedCommands(serverId: UInt32, limit: Int) async throws -> [LedgerCommand]
  /// Pending commands handed to the plugin become `sent` (others are left as they are).
  func markCommandsSent(ids: [Int64]) async throws
  /// Records what the plugin reported. A final command never changes again (the first
  /// final outcome wins; a later one is ignored). A final state writes a `changes` row
  /// (kind `command`) and the audit row's result in the same transaction.
  /// - Returns: the command as it is now; nil when `id` is not a command of `serverId`.
  func finishCommand(id: Int64, serverId: UInt32, outcome: CommandOutcome) async throws -> LedgerCommand?

  // MARK: Outputs (the committed change feed pushed out, docs/outputs.md)

  /// The last change id output `name` delivered (0: none yet).
  func outputCursor(_ name: String) async throws -> Int64
  /// Moves output `name`'s cursor to `changeId`, never back.
  func advanceOutputCursor(_ name: String, to changeId: Int64) async throws
  /// Records a refused batch and moves the output's cursor past it, in one transaction.
  /// - Returns: the dead letter with its id.
  func deadLetter(
    output: String, firstChangeId: Int64, lastChangeId: Int64, status: Int, response: String
  ) async throws -> OutputDeadLetter
  /// Output `name`'s dead letters, oldest first, at most `limit`; `waitingOnly`: not yet re-driven.
  func deadLetters(output: String, waitingOnly: Bool, limit: Int) async throws -> [OutputDeadLetter]
  /// Marks dead letter `id` of `output` re-driven. - Returns: it, or nil when there is no such letter.
  func markRedriven(output: String, id: Int64) async throws -> OutputDeadLetter?

  // MARK: FIX drop copy sessions (docs/fix.md)

  /// Session `session`'s sequence numbers (a new session: 1, 1, change 0).
  func fixSequences(_ session: String) async throws -> FIXSequenceState
  /// Stores the session's sequence numbers and the reports just sequenced, in one
  /// transaction; `reset` first forgets the session's earlier reports (141=Y).
  func saveFIXSequences(_ session: String, _ state: FIXSequenceState, reports: [FIXSentReport], reset: Bool) async throws
  /// The reports session `session` sent with MsgSeqNum in `fromSeq...throughSeq`, in order, with their bodies.
  func fixReports(_ session: String, fromSeq: Int64, throughSeq: Int64) async throws -> [FIXSentReport]
  /// The MT5 deal a report renders (``LedgerFIXSQL/deal``), or nil.
  func fixDeal(serverId: Int64, deal: Int64) async throws -> LedgerRecord?
  /// The MT4 trade a report renders (``LedgerFIXSQL/trade``), or nil.
  func fixTrade(serverId: Int64, ticket: Int64) async throws -> LedgerRecord?

  // MARK: Readers (CRM API, verify)

  /// Every trade server with its resume point and last event.
  func servers() async throws -> [LedgerRecord]
  /// One account with its open positions count, or nil.
  func account(serverId: Int64, login: Int64) async throws -> LedgerRecord?
  /// One page of an account listing, oldest first (``LedgerQueries/page(_:serverId:login:fromUTC:toUTC:after:limit:)``).
  func page(
    _ listing: AccountListing, serverId: Int64, login: Int64, fromUTC: String?, toUTC: String?,
    after: LedgerCursor?, limit: Int
  ) async throws -> LedgerPage
  /// Changes after `afterId`, oldest first, at most `limit`.
  func changes(afterId: Int64, limit: Int) async throws -> [LedgerRecord]
  /// The newest change id (0 when the feed is empty).
  func lastChangeId() async throws -> Int64
  /// The rows `tradetap verify` compares (money as exact decimal text).
  func verificationRows(_ set: VerificationSet, serverId: Int64) async throws -> [LedgerRecord]
  /// Every gateway source with its last event and row counts (``LedgerGatewaySQL/gateways``).
  func gateways() async throws -> [LedgerRecord]
  /// A gateway's executions above execution id `after`, in id order, at most `limit`
  /// (`fromUTC` inclusive, `toUTC` exclusive, on `time_utc`).
  func gatewayExecutions(
    gatewayId: Int64, after: Int64, fromUTC: String?, toUTC: String?, limit: Int
  ) async throws -> [LedgerRecord]
  /// The requests a gateway locked in [`fromUTC`, `toUTC`) (of `symbol`, nil: all), with
  /// their answers and executions (``ExecutionQuality``).
  func gatewayQualityRows(gatewayId: Int64, fromUTC: String?, toUTC: String?, symbol: String?) async throws
    -> GatewayQualityRows
  /// Every gateway's fills against the servers' deals; new mismatches appended to
  /// `reconciliation_divergences`, never corrected (``GatewayCrossCheckSQL``).
  func crossCheckGateways(grace: Duration) async throws -> GatewayCrossCheck
  /// Rows of `table` (a schema table name), for tests and operators' checks.
  func rowCount(_ table: LedgerTable) async throws -> Int
  /// How far the ledger accounts for one trade server's hook events (`tradetap demo`).
  func catchUp(serverId: Int64) async throws -> LedgerCatchUp

  /// Releases connections (PostgreSQL); the store must not be used after.
  func close() async
}

/// The row sets `tradetap verify` reads (``LedgerStore/verificationRows(_:serverId:)``).
public enum VerificationSet: Sendable, CaseIterable {
  /// Accounts not marked deleted: login, balance, credit.
  case accounts
  /// MT5 deals not marked deleted.
  case deals
  /// MT5 open positions.
  case positions
  /// MT4 open trades.
  case openTrades
  /// MT4 history: closed trades, balance and credit records (not deleted pending orders).
  case historyTrades
}
