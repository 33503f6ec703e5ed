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
/// One sweep at a time (servers one after another), on a Swift task; SQLite work on
/// the NIO thread pool; connections only register, route chunks and raise triggers.
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

  enum Failure: Error, CustomStringConvertible {
    case disconnected, timedOut, stopped
    case snapshot(SnapshotScope, SnapshotStatus)
    case chunkOutOfOrder(expected: UInt32, got: UInt32)
    case ledgerBehind(durableNeeded: UInt64)

    var description: String {
      switch self {
      case .disconnected: "the plugin disconnected"
      case .timedOut: "no snapshot chunk for \(Reconciler.snapshotTimeout)"
      case .stopped: "collector stopping"
      case .snapshot(let scope, let status): "\(scope) snapshot answered \(status)"
      case .chunkOutOfOrder(let expected, let got): "snapshot chunk \(got) where \(expected) was expected"
      case .ledgerBehind(let needed): "ledger not durable through \(needed) within \(Reconciler.catchUpTimeout)"
      }
    }
  }

  /// A complete snapshot answer.
  struct Answer: Sendable {
    var status: SnapshotStatus
    var records: [Event]
    /// The highest sequence the connection had received when the first chunk arrived.
    var caughtUpThrough: UInt64
  }

  private struct Pending {
    let serverId: UInt32
    let continuation: CheckedContinuation<Answer, Error>
    var records: [Event] = []
    var nextChunk: UInt32 = 0
    var caughtUpThrough: UInt64 = 0
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

  /// - Parameter interval: `--reconcile-every`; nil turns reconciliation off (no sweep, no trigger).
  init(interval: Duration?, ledger: any LedgerStore, metrics: ReconciliationMetrics, logger: Logger) {
    self.interval = interval
    self.ledger = ledger
    self.metrics = metrics
    self.logger = logger
    guard let interval else { return }
    loop.withLock { $0 = Task { [weak self] in await self?.run(every: interval) } }
  }

  /// Stops the loop and fails every snapshot still awaited.
  func stop() {
    loop.withLock { $0?.cancel(); $0 = nil }
    let waiting = state.withLock { s -> [Pending] in
      s.stopped = true
      defer { s.pending.removeAll() }
      return Array(s.pending.values)
    }
    for p in waiting { p.continuation.resume(throwing: Failure.stopped) }
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
    let failed = state.withLock { s -> [Pending] in
      guard s.connections[serverId]?.id == connection else { return [] }
      s.connections[serverId] = nil
      let ids = s.pending.filter { $0.value.serverId == serverId }.map(\.key)
      return ids.compactMap { s.pending.removeValue(forKey: $0) }
    }
    for p in failed { p.continuation.resume(throwing: Failure.disconnected) }
  }

  /// The ledger recorded a gap of this server: sweep it at once.
  func gapRecorded(serverId: UInt32) {
    guard interval != nil else { return }
    state.withLock { _ = $0.due.insert(serverId) }
  }

  /// A snapshot chunk arrived. `caughtUpThrough`: the highest sequence this
  /// connection had received before it (the stream is ordered, and the plugin walks
  /// the host only once those are sent, so chunk 0's value is the snapshot's point).
  func receive(_ chunk: SnapshotChunk, serverId: UInt32, caughtUpThrough: UInt64) {
    let finished = state.withLock { s -> (Pending, Result<Answer, Error>)? in
      guard var p = s.pending[chunk.requestId], p.serverId == serverId else { return nil }
      guard chunk.chunkIndex == p.nextChunk else {
        s.pending[chunk.requestId] = nil
        return (p, .failure(Failure.chunkOutOfOrder(expected: p.nextChunk, got: chunk.chunkIndex)))
      }
      // The plugin walks the host right before chunk 0, when its journal is drained;
      // live batches go out between later chunks, after the walk: the point is chunk 0's.
      if p.nextChunk == 0 { p.caughtUpThrough = caughtUpThrough }
      p.nextChunk += 1
      p.lastProgress = ContinuousClock.now
      p.records.append(contentsOf: chunk.records.lazy.filter { $0.serverId == serverId && $0.sequence == 0 })
      guard chunk.isFinal else {
        s.pending[chunk.requestId] = p
        return nil
      }
      s.pending[chunk.requestId] = nil
      return (p, .success(Answer(status: chunk.status, records: p.records, caughtUpThrough: p.caughtUpThrough)))
    }
    if let (p, result) = finished { p.continuation.resume(with: result) }
    else if chunk.isFinal { logger.debug("snapshot chunk for no awaited request", metadata: ["tradetap.server_id": "\(serverId)"]) }
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
        await sweep(serverId: serverId)
      }
      try? await Task.sleep(for: Self.pollInterval)
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
      func ask(_ scope: SnapshotScope, from: Int64 = 0, to: Int64 = 0) async throws -> [Event]? {
        let answer = try await request(SnapshotRequest(
          requestId: 0, scope: scope, fromBrokerMilliseconds: from, toBrokerMilliseconds: to), serverId: serverId)
        switch answer.status {
        case .ok:
          caughtUp = max(caughtUp, answer.caughtUpThrough)
          scopePoint[scope] = answer.caughtUpThrough
          return answer.records
        case .notOffered: return nil
        case .failed: throw Failure.snapshot(scope, .failed)
        }
      }
      guard let users = try await ask(.accounts) else { throw Failure.snapshot(.accounts, .notOffered) }
      snapshot.accounts = users.compactMap { if case .user(let u) = $0.body { u } else { nil } }
      var isMT4 = platform == 4
      if !isMT4 {
        let fullHistory = state.withLock { $0.fullDealHistory.contains(serverId) || $0.newestDealTime[serverId] == nil }
        if let positions = try await ask(.positions) {
          snapshot.positions = positions.compactMap { if case .position(let p) = $0.body { p } else { nil } }
          let from = fullHistory ? 0 : state.withLock { $0.newestDealTime[serverId] ?? 0 } - Self.dealLookbackMilliseconds
          let window = max(0, from)..<Int64.max
          if let deals = try await ask(.deals, from: window.lowerBound, to: window.upperBound) {
            snapshot.deals = deals.compactMap { if case .deal(let d) = $0.body { d } else { nil } }
            snapshot.dealWindow = window
          }
        } else if platform == nil {
          isMT4 = true  // no positions: an MT4 host
        }
      }
      if isMT4, let trades = try await ask(.trades) {
        snapshot.trades = trades.compactMap { if case .trade(let t) = $0.body { t } else { nil } }
      }
      // Each scope was taken at its own moment: compared at its own point in the stream.
      snapshot.accountsThrough = scopePoint[.accounts]
      snapshot.positionsThrough = scopePoint[.positions]
      snapshot.dealsThrough = scopePoint[.deals]
      snapshot.tradesThrough = scopePoint[.trades]
      let outcome = try await reconcile(snapshot, caughtUpThrough: caughtUp, startedUtc: startedUtc)
      let elapsed = clock.now - started
      state.withLock { s in
        s.fullDealHistory.remove(serverId)
        if let newest = snapshot.deals?.map(\.time.brokerMilliseconds).max() {
          s.newestDealTime[serverId] = max(newest, s.newestDealTime[serverId] ?? 0)
        }
      }
      metrics.sweeps.add(1)
      metrics.divergences.add(outcome.divergences.count)
      metrics.recordsCompared.add(
        outcome.accountsCompared + outcome.positionsCompared + outcome.dealsCompared + outcome.tradesCompared)
      let micros = Int(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
      metrics.lastSweepMicroseconds.store(micros, ordering: .relaxed)
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
      if let outcome = try await NIOThreadPool.singleton.runIfActive({
        try writer.reconcile(snapshot, caughtUpThrough: caughtUpThrough, startedUtc: startedUtc)
      }) {
        return outcome
      }
      guard ContinuousClock.now < deadline else { throw Failure.ledgerBehind(durableNeeded: caughtUpThrough) }
      try await Task.sleep(for: .milliseconds(20))
    }
  }

  /// Sends a snapshot request on the server's connection and awaits every chunk.
  func request(_ template: SnapshotRequest, serverId: UInt32) async throws -> Answer {
    let timeout = Task { [weak self] in
      while (try? await Task.sleep(for: .seconds(1))) != nil {
        guard let self else { return }
        if self.silentLongerThan(Self.snapshotTimeout, serverId: serverId) {
          self.failAll(serverId: serverId, with: .timedOut)
          return
        }
      }
    }
    defer { timeout.cancel() }
    return try await withCheckedThrowingContinuation { continuation in
      let sent = state.withLock { s -> (any Channel, SnapshotRequest)? in
        guard !s.stopped, let connection = s.connections[serverId] else { return nil }
        var request = template
        request.requestId = s.nextRequestId
        s.nextRequestId = s.nextRequestId == UInt32.max ? 1 : s.nextRequestId + 1
        s.pending[request.requestId] = Pending(serverId: serverId, continuation: continuation)
        return (connection.channel, request)
      }
      guard let (channel, request) = sent else {
        continuation.resume(throwing: Failure.disconnected)
        return
      }
      channel.writeAndFlush(Message.snapshotRequest(request), promise: nil)
    }
  }

  /// Whether a pending snapshot of this server has had no chunk for `limit`.
  private func silentLongerThan(_ limit: Duration, serverId: UInt32) -> Bool {
    let now = ContinuousClock.now
    return state.withLock { s in
      s.pending.values.contains { $0.serverId == serverId && now - $0.lastProgress > limit }
    }
  }

  private func failAll(serverId: UInt32, with failure: Failure) {
    let failed = state.withLock { s -> [Pending] in
      let ids = s.pending.filter { $0.value.serverId == serverId }.map(\.key)
      return ids.compactMap { s.pending.removeValue(forKey: $0) }
    }
    for p in failed { p.continuation.resume(throwing: failure) }
  }

  /// ISO-8601 UTC with milliseconds, as every `*_utc` column.
  static func utcText(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }
}
