import Foundation
import Logging
import NIOCore
import TradeTapLedger

/// One writer per ledger: collects the batches of every connection and commits as
/// many as are waiting in one transaction (group commit), so that under load the
/// cost of a durable commit (`fsync`) is shared by many batches.
///
/// Runs on its own thread because a SQLite commit blocks. Submissions complete in
/// the order they were made, and only after the transaction that holds them has
/// committed: the caller acknowledges on completion, never before.
final class GroupCommitter: @unchecked Sendable {
  /// Work for the next transaction: a batch, or reported gaps, or both.
  struct Submission {
    var batch: LedgerBatch?
    var reportedGaps: [ReportedGap]
    var promise: EventLoopPromise<LedgerCommit>
    /// The plugin stream (connection) it belongs to, from ``openStream()``; 0: none.
    var stream: UInt64 = 0
  }

  /// Why a submission was not committed.
  enum Failure: Error {
    case stopped
    /// An earlier commit of the same stream failed (see ``failedStreams``).
    case earlierCommitOfTheStreamFailed
  }

  private let ledger: any LedgerStore
  private let metrics: CollectorMetrics
  private let logger: Logger
  private let maxEventsPerCommit: Int
  // Guarded by `condition`.
  private let condition = NSCondition()
  private var queue: [Submission] = []
  private var accepting = true
  private var finished = false
  private var thread: Thread?
  private var lastStream: UInt64 = 0
  /// Streams one of whose commits failed. Their later submissions must never commit:
  /// the ledger would hold the events after the failed batch but not the batch, a hole
  /// it records as a "not received" gap, and its durable sequence (the resume point of
  /// the plugin's next connection) would jump past events the journal then drops.
  /// Found with PostgreSQL stopped under load (Tools/faults/postgres-restart.sh): the
  /// batches queued behind the failed one committed once it was back, 3,524 events lost.
  /// One entry per failed connection, never pruned (a failure costs a reconnection).
  private var failedStreams: Set<UInt64> = []

  init(ledger: any LedgerStore, metrics: CollectorMetrics, logger: Logger, maxEventsPerCommit: Int) {
    self.ledger = ledger
    self.metrics = metrics
    self.logger = logger
    self.maxEventsPerCommit = max(1, maxEventsPerCommit)
  }

  func start() {
    let thread = Thread { [self] in self.loop() }
    thread.name = "tradetap-ledger-writer"
    thread.qualityOfService = .userInitiated
    self.thread = thread
    thread.start()
  }

  /// A new stream identity for a plugin connection's submissions.
  func openStream() -> UInt64 {
    condition.lock()
    defer { condition.unlock() }
    lastStream += 1
    return lastStream
  }

  /// Queues work; the promise succeeds with the commit that held it.
  func submit(_ submission: Submission) {
    condition.lock()
    guard accepting else {
      condition.unlock()
      submission.promise.fail(Failure.stopped)
      return
    }
    queue.append(submission)
    condition.signal()
    condition.unlock()
  }

  /// Stops taking work, commits everything already queued, and returns when the
  /// writer thread has finished.
  func drainAndStop() async {
    stopAccepting()
    while !isFinished() {
      try? await Task.sleep(for: .milliseconds(5))
    }
  }

  private func stopAccepting() {
    condition.lock()
    accepting = false
    condition.broadcast()
    condition.unlock()
  }

  private func isFinished() -> Bool {
    condition.lock()
    defer { condition.unlock() }
    return finished
  }

  private func loop() {
    while true {
      condition.lock()
      while queue.isEmpty && accepting { condition.wait() }
      if queue.isEmpty && !accepting {
        finished = true
        condition.unlock()
        return
      }
      // Take what is waiting, up to the per-transaction bound.
      var taken = 0
      var events = 0
      while taken < queue.count {
        events += queue[taken].batch?.events.count ?? 0
        taken += 1
        if events >= maxEventsPerCommit { break }
      }
      var work = Array(queue[..<taken])
      queue.removeFirst(taken)
      // Work of a stream whose earlier commit failed is failed, never committed.
      let orphaned = work.filter { $0.stream != 0 && failedStreams.contains($0.stream) }
      if !orphaned.isEmpty { work.removeAll { $0.stream != 0 && failedStreams.contains($0.stream) } }
      condition.unlock()
      for submission in orphaned { submission.promise.fail(Failure.earlierCommitOfTheStreamFailed) }
      if !work.isEmpty { commit(work) }
    }
  }

  private func commit(_ work: [Submission]) {
    do {
      let result = try ledger.commit(
        work.compactMap(\.batch), reportedGaps: work.flatMap(\.reportedGaps))
      metrics.recordCommit(work.compactMap(\.batch), submissions: work.count, result: result)
      for submission in work { submission.promise.succeed(result) }
    } catch {
      logger.error("ledger commit failed", metadata: ["tradetap.error": "\(error)", "tradetap.batches": "\(work.count)"])
      condition.lock()
      for submission in work where submission.stream != 0 { failedStreams.insert(submission.stream) }
      condition.unlock()
      for submission in work { submission.promise.fail(error) }
    }
  }
}
