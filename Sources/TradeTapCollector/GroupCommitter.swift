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
  }

  /// Why a submission was not committed.
  enum Failure: Error { case stopped }

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
      let work = Array(queue[..<taken])
      queue.removeFirst(taken)
      condition.unlock()
      commit(work)
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
      for submission in work { submission.promise.fail(error) }
    }
  }
}
