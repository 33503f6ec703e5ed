import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// Reconciliation sweeps (docs/reconciliation.md): every `--reconcile-every`, and
/// at once when a server (re)connects or the ledger records a gap of it, ask its
/// plugin for snapshots (accounts; MT5 positions and deals; MT4 trades), wait until
/// the ledger holds every event the plugin sent before them, then let
/// ``LedgerWriter/reconcile(_:caughtUpThrough:startedUtc:)`` compare, record and correct.
///
/// Each server's sweeps run on their own Swift task, one at a time per server and
/// independently of other servers (a slow plugin delays only its own sweep); ledger
/// work on the NIO thread pool; connections only register, route chunks and raise
/// triggers. A snapshot answer is held as typed records, capped in records and
/// bytes (`--snapshot-max-records`, `--snapshot-max-bytes`); a sweep that would
/// delete or zero more than `--reconcile-max-deletions` is held, not applied, until
/// ``apply(sweepId:)`` (docs/reconciliation.md, "Held sweeps").
public final class Reconciler: Sendable {
  /// MT5 deals: after a server's first complete sweep, later sweeps ask for deals
  /// from the newest deal time seen minus this (broker time): late, backdated or
  /// concurrent deals are still covered without re-reading the whole history.
  static let dealLookbackMilliseconds: Int64 = 3_600_000
  /// A snapshot whose plugin sent no chunk for this long is abandoned (the sweep
  /// fails; the next one retries). A silence limit, not a cap on the whole answer:
  /// the plugin paces its chunks to spare the trade server, so a large book (hundreds
  /// of thousands of deals after a journal overflow) legitimately takes minutes.
  static let snapshotTimeout: Duration = .seconds(60)
  /// The ledger must reach the snapshot's point in the stream within this.
  static let catchUpTimeout: Duration = .seconds(30)
  /// How often the loop looks for due sweeps.
  static let pollInterval: Duration = .milliseconds(100)
  /// `TS_ERR_NOT_FOUND`: what an MT4 host's `positions_enum` answers (the ABI's
  /// "MT5 only, else TS_ERR_NOT_FOUND"), the only host error that is not a failure,
  /// and only while the server's platform is unknown.
  static let hostNotFound: Int32 = 6

  /// What bounds a sweep (``CollectorConfiguration``).
  struct Limits: Sendable {
    /// `--reconcile-max-deletions`; nil: never hold.
    var deletions: ReconciliationDeletionLimit? = .default
    /// `--snapshot-max-records`, `--snapshot-max-bytes`: one answer past either is abandoned.
    var maxRecordsPerAnswer = 2_000_000
    var maxBytesPerAnswer = 1 << 30

    init() {}

    init(_ configuration: CollectorConfiguration) {
      deletions = configuration.reconcileMaxDeletions
      maxRecordsPerAnswer = configuration.snapshotMaxRecords
      maxBytesPerAnswer = configuration.snapshotMaxBytes
    }
  }

  enum Failure: Error, CustomStringConvertible {
    case disconnected, timedOut, stopped
    case snapshot(SnapshotScope, SnapshotStatus)
    case hostError(SnapshotScope, Int32)
    case answerTooLarge(SnapshotScope, records: Int, bytes: Int, limits: Limits)
    case chunkOutOfOrder(expected: UInt32, got: UInt32)
    case ledgerBehind(durableNeeded: UInt64)

    var description: String {
      switch self {
      case .disconnected: "the plugin disconnected"
      case .timedOut: "no snapshot chunk for \(Reconciler.snapshotTimeout)"
      case .stopped: "collector stopping"
      case .snapshot(let scope, let status): "\(scope) snapshot answered \(status)"
      case .hostError(let scope, let code):
        "\(scope) snapshot: the host's query answered error \(code)\(code == Reconciler.hostNotFound ? " (TS_ERR_NOT_FOUND)" : ""); an unknown state is never taken for an empty book"
      case .answerTooLarge(let scope, let records, let bytes, let limits):
        "\(scope) snapshot over its cap: \(records) records, ~\(bytes) bytes held without a final chunk (--snapshot-max-records \(limits.maxRecordsPerAnswer), --snapshot-max-bytes \(limits.maxBytesPerAnswer))"
      case .chunkOutOfOrder(let expected, let got): "snapshot chunk \(got) where \(expected) was expected"
      case .ledgerBehind(let needed): "ledger not durable through \(needed) within \(Reconciler.catchUpTimeout)"
      }
    }
  }

  /// Why ``apply(sweepId:)`` refused (besides ``HeldSweepError``).
  enum ApplyFailure: Error, CustomStringConvertible {
    /// Held, but its snapshot was held by an earlier run of the collector: the next
    /// sweep of its server replaces it.
    case snapshotLost(Int64)
    case ledgerBehind(Int64)

    var description: String {
      switch self {
      case .snapshotLost(let id):
        "reconciliation sweep \(id) was held before this collector started; its snapshot is gone and the next sweep of its server supersedes it"
      case .ledgerBehind(let id): "reconciliation sweep \(id): the ledger is behind its snapshot"
      }
    }
  }

  /// A complete snapshot answer.
  struct Answer: Sendable {
    var status: SnapshotStatus
    var hostResult: Int32
    var records: SnapshotRecords
    /// The highest sequence the connection had received when the first chunk arrived.
    var caughtUpThrough: UInt64
  }

  /// A snapshot answer as it arrives: typed platform records (not events), with a
  /// count and an estimate of the bytes they hold, checked against the caps chunk by chunk.
  struct SnapshotRecords: Sendable {
    var users: [User] = []
    var positions: [Position] = []
    var deals: [Deal] = []
    var trades: [Trade] = []
    var count = 0
    /// The records' size in memory (struct plus string bytes outside it).
    var bytes = 0

    mutating func append(_ event: Event) {
      switch event.body {
      case .user(let u):
        users.append(u)
        bytes += MemoryLayout<User>.stride + Self.heap(u.group, u.name, u.email, u.country, u.currency, u.comment)
      case .position(let p):
        positions.append(p)
        bytes += MemoryLayout<Position>.stride + Self.heap(p.symbol, p.comment)
      case .deal(let d):
        deals.append(d)
        bytes += MemoryLayout<Deal>.stride + Self.heap(d.symbol, d.comment, d.externalId)
      case .trade(let t):
        trades.append(t)
        bytes += MemoryLayout<Trade>.stride + Self.heap(t.symbol, t.comment)
      default:
        return
      }
      count += 1
    }

    /// Bytes of strings too long for Swift's inline small-string form (15 UTF-8 bytes).
    private static func heap(_ strings: String...) -> Int {
      strings.reduce(0) { $0 + ($1.utf8.count > 15 ? $1.utf8.count + 32 : 0) }
    }
  }

  /// A sweep over its deletion limit, waiting for ``apply(sweepId:)``.
  private struct HeldSweep: Sendable {
    let sweepId: Int64
    let snapshot: PlatformSnapshot
    let caughtUpThrough: UInt64
  }

  /// A chunk handed over by its connection; `taken` tells the connection it left
  /// its read window (the chunk counts there until then).
  struct Delivery: Sendable {
    let chunk: SnapshotChunk
    let caughtUpThrough: UInt64
    let taken: @Sendable () -> Void
  }

  /// A request awaiting its answer: chunks wait in `inbox` until the sweep's task
  /// takes them, so a sweep that falls behind holds its connection's reads, never
  /// an unbounded queue.
  private struct Pending {
    let serverId: UInt32
    var inbox: [Delivery] = []
    var waiter: CheckedContinuation<Delivery, Error>?
    /// Set when the request failed (disconnect, silence, stop) before its task looked.
    var failure: Failure?
    /// When the request went out or the last chunk arrived (the silence timer's origin).
    var lastProgress = ContinuousClock.now
  }

  private struct Connection {
    let id: UInt64
    let channel: any Channel
  }

  private struct State {
    var connections: [UInt32: Connection] = [:]
    var pending: [UInt32: Pending] = [:]
    var due: Set<UInt32> = []
    /// Servers whose next sweep reads every deal (first sweep of a connection).
    var fullDealHistory: Set<UInt32> = []
    var newestDealTime: [UInt32: Int64] = [:]
    /// The sweep running now, per server (servers sweep independently).
    var running: [UInt32: Task<Void, Never>] = [:]
    /// The held sweep of each server (a newer sweep supersedes it).
    var held: [UInt32: HeldSweep] = [:]
    var nextRequestId: UInt32 = 1
    var nextConnectionId: UInt64 = 1
    var stopped = false
  }

  private let state = Mutex(State())
  private let loop = Mutex<Task<Void, Never>?>(nil)
  let interval: Duration?
  let ledger: any LedgerStore
  let metrics: ReconciliationMetrics
  let logger: Logger
  let limits: Limits

  /// - Parameters:
  ///   - interval: `--reconcile-every`; nil turns reconciliation off (no sweep, no trigger).
  ///   - limits: deletion limit and snapshot caps.
  init(
    interval: Duration?, ledger: any LedgerStore, metrics: ReconciliationMetrics, logger: Logger,
    limits: Limits = Limits()
  ) {
    self.interval = interval
    self.ledger = ledger
    self.metrics = metrics
    self.logger = logger
    self.limits = limits
    guard let interval else { return }
    loop.withLock { $0 = Task { [weak self] in await self?.run(every: interval) } }
  }

  /// Stops the loop and every running sweep, and fails every snapshot still awaited.
  func stop() {
    loop.withLock { $0?.cancel(); $0 = nil }
    let running = state.withLock { s -> [Task<Void, Never>] in
      s.stopped = true
      defer { s.running.removeAll() }
      return Array(s.running.values)
    }
    for task in running { task.cancel() }
    fail(where: { _ in true }, with: .stopped)
  }

  // MARK: Connections (called on their event loops)

  /// A server authenticated: sweep it at once, over its whole deal history.
  /// - Returns: the registration id to pass to ``disconnected(serverId:connection:)``.
  func connected(serverId: UInt32, channel: any Channel) -> UInt64 {
    state.withLock { s in
      let id = s.nextConnectionId
      s.nextConnectionId += 1
      s.connections[serverId] = Connection(id: id, channel: channel)
      if interval != nil {
        s.due.insert(serverId)
        s.fullDealHistory.insert(serverId)
      }
      return id
    }
  }

  func disconnected(serverId: UInt32, connection: UInt64) {
    let current = state.withLock { s in
      guard s.connections[serverId]?.id == connection else { return false }
      s.connections[serverId] = nil
      return true
    }
    if current { fail(where: { $0 == serverId }, with: .disconnected) }
  }

  /// The ledger recorded a gap of this server: sweep it at once.
  func gapRecorded(serverId: UInt32) {
    guard interval != nil else { return }
    state.withLock { _ = $0.due.insert(serverId) }
  }

  /// A snapshot chunk arrived. `caughtUpThrough`: the highest sequence this
  /// connection had received before it (the stream is ordered, and the plugin walks
  /// the host only once those are sent, so chunk 0's value is the snapshot's point).
  /// `taken` is called once the chunk left the reconciler's hands (at once when no
  /// request awaits it): until then it counts in the connection's read window.
  func receive(
    _ chunk: SnapshotChunk, serverId: UInt32, caughtUpThrough: UInt64, taken: @escaping @Sendable () -> Void = {}
  ) {
    let delivery = Delivery(chunk: chunk, caughtUpThrough: caughtUpThrough, taken: taken)
    let waiter = state.withLock { s -> CheckedContinuation<Delivery, Error>?? in
      guard var p = s.pending[chunk.requestId], p.serverId == serverId, p.failure == nil else { return .none }
      p.lastProgress = ContinuousClock.now
      defer { s.pending[chunk.requestId] = p }
      if let waiter = p.waiter {
        p.waiter = nil
        return .some(waiter)
      }
      p.inbox.append(delivery)
      return .some(nil)
    }
    switch waiter {
    case .none:
      taken()
      if chunk.isFinal { logger.debug("snapshot chunk for no awaited request", metadata: ["tradetap.server_id": "\(serverId)"]) }
    case .some(let waiter?): waiter.resume(returning: delivery)
    case .some(nil): break
    }
  }

  /// The next chunk of request `id`, waiting for it; throws the request's failure.
  private func nextDelivery(_ id: UInt32) async throws -> Delivery {
    try await withCheckedThrowingContinuation { continuation in
      let ready = state.withLock { s -> Result<Delivery, Error>? in
        guard var p = s.pending[id] else { return .failure(Failure.stopped) }
        if let failure = p.failure { return .failure(failure) }
        guard p.inbox.isEmpty else {
          defer { s.pending[id] = p }
          return .success(p.inbox.removeFirst())
        }
        p.waiter = continuation
        s.pending[id] = p
        return nil
      }
      if let ready { continuation.resume(with: ready) }
    }
  }

  /// Fails every request of the servers `matching`: a task waiting for a chunk is
  /// woken with the failure, one busy with a chunk finds it at its next wait.
  private func fail(where matching: (UInt32) -> Bool, with failure: Failure) {
    let woken = state.withLock { s -> [CheckedContinuation<Delivery, Error>] in
      var woken: [CheckedContinuation<Delivery, Error>] = []
      for (id, var p) in s.pending where matching(p.serverId) && p.failure == nil {
        p.failure = failure
        if let waiter = p.waiter { woken.append(waiter) }
        p.waiter = nil
        s.pending[id] = p
      }
      return woken
    }
    for waiter in woken { waiter.resume(throwing: failure) }
  }

  // MARK: The loop

  private func run(every interval: Duration) async {
    let clock = ContinuousClock()
    var nextPeriodic = clock.now + interval
    while !Task.isCancelled {
      var due = state.withLock { s -> Set<UInt32> in
        defer { s.due.removeAll() }
        return s.due
      }
      if clock.now >= nextPeriodic {
        due.formUnion(state.withLock { Set($0.connections.keys) })
        nextPeriodic = clock.now + interval
      }
      for serverId in due.sorted() where !Task.isCancelled {
        startSweep(serverId: serverId)
      }
      try? await Task.sleep(for: Self.pollInterval)
    }
  }

  /// Starts a sweep of `serverId` on its own task, unless one is running (then it
  /// stays due and starts once that one ends): one slow server never delays another's.
  private func startSweep(serverId: UInt32) {
    state.withLock { s in
      guard !s.stopped else { return }
      guard s.running[serverId] == nil else {
        s.due.insert(serverId)
        return
      }
      s.running[serverId] = Task { [weak self] in
        await self?.sweep(serverId: serverId)
        _ = self?.state.withLock { $0.running.removeValue(forKey: serverId) }
      }
    }
  }

  /// One sweep of one server. Failures are logged and counted; the next sweep retries.
  func sweep(serverId: UInt32) async {
    var logger = self.logger
    logger[metadataKey: "tradetap.server_id"] = "\(serverId)"
    let clock = ContinuousClock()
    let started = clock.now
    let startedUtc = Self.utcText(Date())
    do {
      let ledger = self.ledger
      let platform = try await NIOThreadPool.singleton.runIfActive {
        try ledger.platform(serverId: serverId)
      }
      var snapshot = PlatformSnapshot(serverId: serverId)
      var caughtUp: UInt64 = 0
      var scopePoint: [SnapshotScope: UInt64] = [:]
      func ask(_ scope: SnapshotScope, from: Int64 = 0, to: Int64 = 0) async throws -> SnapshotRecords? {
        let answer = try await request(SnapshotRequest(
          requestId: 0, scope: scope, fromBrokerMilliseconds: from, toBrokerMilliseconds: to), serverId: serverId)
        switch answer.status {
        case .ok:
          caughtUp = max(caughtUp, answer.caughtUpThrough)
          scopePoint[scope] = answer.caughtUpThrough
          return answer.records
        case .notOffered: return nil
        case .failed: throw Failure.snapshot(scope, .failed)
        case .hostError:
          // A query that failed says nothing about the book: the sweep stops here. The one
          // exception is the ABI's own dialect probe (positions on a host of unknown platform).
          if scope == .positions, platform == nil, answer.hostResult == Self.hostNotFound { return nil }
          throw Failure.hostError(scope, answer.hostResult)
        }
      }
      guard let users = try await ask(.accounts) else {
        // A source with no accounts to offer (a gateway: its plugin taps requests and
        // executions, it keeps no book) has nothing to reconcile: not a failed sweep.
        logger.debug("reconciliation: the source offers no accounts (a gateway), nothing to sweep")
        return
      }
      snapshot.accounts = users.users
      var isMT4 = platform == 4
      if !isMT4 {
        let fullHistory = state.withLock { $0.fullDealHistory.contains(serverId) || $0.newestDealTime[serverId] == nil }
        if let positions = try await ask(.positions) {
          snapshot.positions = positions.positions
          let from = fullHistory ? 0 : state.withLock { $0.newestDealTime[serverId] ?? 0 } - Self.dealLookbackMilliseconds
          let window = max(0, from)..<Int64.max
          if let deals = try await ask(.deals, from: window.lowerBound, to: window.upperBound) {
            snapshot.deals = deals.deals
            snapshot.dealWindow = window
          }
        } else if platform == nil {
          isMT4 = true  // no positions: an MT4 host
        }
      }
      if isMT4, let trades = try await ask(.trades) {
        snapshot.trades = trades.trades
      }
      // Each scope was taken at its own moment: compared at its own point in the stream.
      snapshot.accountsThrough = scopePoint[.accounts]
      snapshot.positionsThrough = scopePoint[.positions]
      snapshot.dealsThrough = scopePoint[.deals]
      snapshot.tradesThrough = scopePoint[.trades]
      let outcome = try await reconcile(snapshot, caughtUpThrough: caughtUp, startedUtc: startedUtc)
      let elapsed = clock.now - started
      metrics.sweeps.add(1)
      metrics.recordsCompared.add(
        outcome.accountsCompared + outcome.positionsCompared + outcome.dealsCompared + outcome.tradesCompared)
      let micros = Int(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
      metrics.lastSweepMicroseconds.store(micros, ordering: .relaxed)
      if outcome.held {
        // Kept for an operator; the next sweep reads the whole deal history again.
        state.withLock { $0.held[serverId] = HeldSweep(sweepId: outcome.sweepId, snapshot: snapshot, caughtUpThrough: caughtUp) }
        metrics.sweepsHeld.add(1)
        metrics.setHeldSweeps(serverId: serverId, 1)
        logger.warning(
          "reconciliation sweep \(outcome.sweepId) HELD, nothing corrected: it would delete or zero \(outcome.deletions) of the \(outcome.ledgerRowsCompared) ledger rows compared (limit \(outcome.deletionLimit), --reconcile-max-deletions \(limits.deletions?.description ?? "none")); \(outcome.accountsCompared) accounts, \(outcome.positionsCompared) positions, \(outcome.dealsCompared) deals, \(outcome.tradesCompared) trades on the platform; \(outcome.divergences.count) divergences recorded as held. Check the trade server, then POST /v1/reconciliation/sweeps/\(outcome.sweepId)/apply to apply it")
        return
      }
      let superseded = state.withLock { s in
        s.fullDealHistory.remove(serverId)
        if let newest = snapshot.deals?.map(\.time.brokerMilliseconds).max() {
          s.newestDealTime[serverId] = max(newest, s.newestDealTime[serverId] ?? 0)
        }
        return s.held.removeValue(forKey: serverId) != nil
      }
      if superseded { metrics.setHeldSweeps(serverId: serverId, 0) }
      metrics.divergences.add(outcome.divergences.count)
      for divergence in outcome.divergences.prefix(20) {
        logger.info("reconciliation divergence: \(divergence)")
      }
      logger.info(
        "reconciliation sweep \(outcome.sweepId): \(outcome.accountsCompared) accounts, \(outcome.positionsCompared) positions, \(outcome.dealsCompared) deals, \(outcome.tradesCompared) trades compared at seq \(caughtUp); \(outcome.divergences.count) divergences corrected, \(outcome.gapsHealed) gaps healed, \(micros / 1000) ms")
    } catch {
      metrics.sweepsFailed.add(1)
      logger.warning("reconciliation sweep abandoned: \(error)")
    }
  }

  /// Compares once the ledger holds everything sent before the snapshot.
  private func reconcile(_ snapshot: PlatformSnapshot, caughtUpThrough: UInt64, startedUtc: String) async throws
    -> ReconciliationOutcome
  {
    let deadline = ContinuousClock.now + Self.catchUpTimeout
    let writer = ledger
    while true {
      let mode = ReconciliationMode.sweep(limit: limits.deletions)
      if let outcome = try await NIOThreadPool.singleton.runIfActive({
        try writer.reconcile(snapshot, caughtUpThrough: caughtUpThrough, startedUtc: startedUtc, mode: mode)
      }) {
        return outcome
      }
      guard ContinuousClock.now < deadline else { throw Failure.ledgerBehind(durableNeeded: caughtUpThrough) }
      try await Task.sleep(for: .milliseconds(20))
    }
  }

  // MARK: Held sweeps

  /// Applies held sweep `sweepId` (`POST /v1/reconciliation/sweeps/{id}/apply`): its
  /// snapshot is compared again at its own points, without deletion limit, and the
  /// ledger corrected; the divergences it corrects are recorded as `applied` rows of
  /// the same sweep. Rows that live events changed since are newer and left alone.
  /// - Throws: ``HeldSweepError`` (unknown: 404; applied or superseded: 409),
  ///   ``ApplyFailure`` (409).
  func apply(sweepId: Int64) async throws -> ReconciliationOutcome {
    let ledger = self.ledger
    guard let (serverId, held) = state.withLock({ s in s.held.first { $0.value.sweepId == sweepId } }) else {
      let status = try await NIOThreadPool.singleton.runIfActive { try ledger.reconciliationSweepStatus(id: sweepId) }
      guard let status else { throw HeldSweepError.unknownSweep(sweepId) }
      guard status == ReconciliationStatus.held else { throw HeldSweepError.notHeld(sweepId, status: status) }
      throw ApplyFailure.snapshotLost(sweepId)
    }
    let outcome: ReconciliationOutcome?
    do {
      outcome = try await NIOThreadPool.singleton.runIfActive {
        try ledger.reconcile(
          held.snapshot, caughtUpThrough: held.caughtUpThrough, startedUtc: nil, mode: .applyHeld(sweepId: sweepId))
      }
    } catch let error as HeldSweepError {
      forgetHeld(serverId: serverId, sweepId: sweepId)
      throw error
    }
    // The ledger's durable point only grows: it was through the snapshot when the sweep was held.
    guard let outcome else { throw ApplyFailure.ledgerBehind(sweepId) }
    forgetHeld(serverId: serverId, sweepId: sweepId)
    state.withLock { s in
      s.fullDealHistory.remove(serverId)
      if let newest = held.snapshot.deals?.map(\.time.brokerMilliseconds).max() {
        s.newestDealTime[serverId] = max(newest, s.newestDealTime[serverId] ?? 0)
      }
    }
    metrics.divergences.add(outcome.divergences.count)
    logger.warning(
      "reconciliation sweep \(sweepId) APPLIED by an operator: \(outcome.divergences.count) divergences corrected (\(outcome.deletions) rows deleted or zeroed), \(outcome.gapsHealed) gaps healed",
      metadata: ["tradetap.server_id": "\(serverId)"])
    return outcome
  }

  private func forgetHeld(serverId: UInt32, sweepId: Int64) {
    let forgot = state.withLock { s in
      guard s.held[serverId]?.sweepId == sweepId else { return false }
      s.held[serverId] = nil
      return true
    }
    if forgot { metrics.setHeldSweeps(serverId: serverId, 0) }
  }

  /// Sends a snapshot request on the server's connection and takes its chunks as
  /// they arrive, into typed records under the caps, until the final one.
  func request(_ template: SnapshotRequest, serverId: UInt32) async throws -> Answer {
    let sent = state.withLock { s -> (any Channel, SnapshotRequest)? in
      guard !s.stopped, let connection = s.connections[serverId] else { return nil }
      var request = template
      request.requestId = s.nextRequestId
      s.nextRequestId = s.nextRequestId == UInt32.max ? 1 : s.nextRequestId + 1
      s.pending[request.requestId] = Pending(serverId: serverId)
      return (connection.channel, request)
    }
    guard let (channel, request) = sent else { throw Failure.disconnected }
    let id = request.requestId
    let timeout = Task { [weak self] in
      while (try? await Task.sleep(for: .seconds(1))) != nil {
        guard let self else { return }
        if self.silentLongerThan(Self.snapshotTimeout, requestId: id) {
          self.fail(request: id, with: .timedOut)
          return
        }
      }
    }
    defer {
      timeout.cancel()
      // Whatever is still in the inbox leaves the connection's read window now.
      let left = state.withLock { $0.pending.removeValue(forKey: id)?.inbox ?? [] }
      for delivery in left { delivery.taken() }
    }
    channel.writeAndFlush(Message.snapshotRequest(request), promise: nil)

    var records = SnapshotRecords()
    var nextChunk: UInt32 = 0
    var point: UInt64 = 0
    while true {
      let delivery = try await nextDelivery(id)
      defer { delivery.taken() }
      let chunk = delivery.chunk
      guard chunk.chunkIndex == nextChunk else {
        throw Failure.chunkOutOfOrder(expected: nextChunk, got: chunk.chunkIndex)
      }
      // The plugin walks the host right before chunk 0, when its journal is drained;
      // live batches go out between later chunks, after the walk: the point is chunk 0's.
      if nextChunk == 0 { point = delivery.caughtUpThrough }
      nextChunk += 1
      for record in chunk.records where record.serverId == serverId && record.sequence == 0 { records.append(record) }
      // Bounded memory whatever the peer sends: past a cap the answer is dropped (at
      // most one chunk, 4,096 records or 1 MiB, beyond it) and the sweep abandoned.
      guard records.count <= limits.maxRecordsPerAnswer, records.bytes <= limits.maxBytesPerAnswer else {
        throw Failure.answerTooLarge(template.scope, records: records.count, bytes: records.bytes, limits: limits)
      }
      if chunk.isFinal {
        return Answer(status: chunk.status, hostResult: chunk.hostResult, records: records, caughtUpThrough: point)
      }
    }
  }

  /// Whether request `requestId` has had no chunk for `limit`.
  private func silentLongerThan(_ limit: Duration, requestId: UInt32) -> Bool {
    let now = ContinuousClock.now
    return state.withLock { s in s.pending[requestId].map { now - $0.lastProgress > limit } ?? false }
  }

  private func fail(request id: UInt32, with failure: Failure) {
    let waiter = state.withLock { s -> CheckedContinuation<Delivery, Error>? in
      guard var p = s.pending[id], p.failure == nil else { return nil }
      p.failure = failure
      defer { p.waiter = nil; s.pending[id] = p }
      return p.waiter
    }
    waiter?.resume(throwing: failure)
  }

  /// ISO-8601 UTC with milliseconds, as every `*_utc` column.
  static func utcText(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }
}
