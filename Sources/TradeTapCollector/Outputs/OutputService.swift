import CoreMetrics
import Foundation
import Logging
import Synchronization
import TradeTapLedger

/// Where an output delivers: a webhook receiver, a NATS stream, a FIX session.
protocol OutputDestination: Sendable {
  /// `webhook`, `nats`, ...
  var kind: String { get }
  /// Where it goes, for the API and logs (never a credential).
  var target: String { get }
  /// Delivers one batch of changes, in id order. Returns once the destination has
  /// confirmed every change of it; throws ``OutputFailure`` otherwise.
  func deliver(_ batch: OutputBatch) async throws
  /// The longest wait between two tries of a failing batch.
  var retryCeiling: Duration { get }
}

extension OutputDestination {
  /// A receiver that fails is usually down or overloaded: back off up to 30 s.
  var retryCeiling: Duration { OutputService.maxBackoff }
}

/// Consecutive committed changes, each rendered as `/v1/changes` renders it.
struct OutputBatch: Sendable {
  let firstChangeId: Int64
  let lastChangeId: Int64
  /// One JSON object per change.
  let changes: [String]
}

/// Why a delivery did not go through.
enum OutputFailure: Error, CustomStringConvertible {
  /// Try again later, the same batch, in order (5xx, 408, 429, a timeout, a refused connection).
  case retryable(String)
  /// The destination refused the batch for good (another 4xx): it goes to the dead letters.
  case refused(status: Int, response: String)

  var description: String {
    switch self {
    case .retryable(let why): why
    case .refused(let status, let response): "refused with \(status): \(response.prefix(200))"
    }
  }
}

/// The series of one output.
struct OutputMeters: Sendable {
  let lagChanges: CoreMetrics.Meter
  let lagSeconds: CoreMetrics.Meter
  let delivered: CoreMetrics.Counter
  let retries: CoreMetrics.Counter
  let deadLetters: CoreMetrics.Counter
}

/// One output: follows the ledger's committed change feed from its own cursor (kept
/// in the ledger), hands each batch to its destination, and moves the cursor only
/// after the destination confirmed it. After any crash or restart it resumes from the
/// cursor, so every change reaches the destination at least once, and the
/// destination's idempotency key (the change id) makes it once in effect
/// (docs/outputs.md).
///
/// It never touches ingest: it reads the feed through the ledger's readers and writes
/// only its cursor (one small write per batch), so an output that is behind, or whose
/// destination is down, slows neither the commits nor the acks to plugins.
final class OutputService: Sendable {
  struct Status: Sendable {
    var name: String
    var kind: String
    var target: String
    var cursor: Int64
    var lastChangeId: Int64
    var lagSeconds: Double
    var delivered: Int64
    var retries: Int64
    var deadLetters: Int64
    var lastError: String?
    var lastDeliveredUtc: String?
  }

  let name: String
  let destination: any OutputDestination
  private let ledger: any LedgerStore
  private let batchSize: Int
  private let logger: Logger
  private let meters: OutputMeters
  private let state: Mutex<Status>
  /// Dead letters an operator asked to deliver again, taken before the next batch.
  private let redrives = Mutex<[OutputDeadLetter]>([])
  private let task = Mutex<Task<Void, Never>?>(nil)
  static let idlePoll: Duration = .milliseconds(200)
  static let maxBackoff: Duration = .seconds(30)

  init(name: String, destination: any OutputDestination, ledger: any LedgerStore, batchSize: Int, metrics: CollectorMetrics,
       logger: Logger) {
    self.name = name
    self.destination = destination
    self.ledger = ledger
    self.batchSize = max(1, batchSize)
    var logger = logger
    logger[metadataKey: "tradetap.output"] = "\(name)"
    self.logger = logger
    meters = metrics.outputMeters(name)
    state = Mutex(Status(
      name: name, kind: destination.kind, target: destination.target, cursor: 0, lastChangeId: 0, lagSeconds: 0,
      delivered: 0, retries: 0, deadLetters: 0))
  }

  var status: Status { state.withLock { $0 } }

  func start() {
    let running = Task { await self.run() }
    task.withLock { $0 = running }
  }

  /// Stops at once; a batch in flight is delivered again after the next start (its
  /// cursor has not moved), which the destination's dedupe absorbs.
  func stop() async {
    let running = task.withLock { task -> Task<Void, Never>? in
      defer { task = nil }
      return task
    }
    running?.cancel()
    await running?.value
  }

  /// Queues a dead letter to be delivered again (`POST .../redrive`).
  func redrive(_ letter: OutputDeadLetter) {
    redrives.withLock { $0.append(letter) }
  }

  // MARK: The loop

  private func run() async {
    var cursor: Int64 = 0
    while !Task.isCancelled {
      do {
        cursor = try await ledger.outputCursor(name)
        break
      } catch {
        logger.warning("cannot read the output's cursor: \(error); trying again")
        try? await Task.sleep(for: .seconds(1))
      }
    }
    state.withLock { $0.cursor = cursor }
    logger.info("output started at change \(cursor): \(destination.kind) \(destination.target)")
    var failures = 0
    while !Task.isCancelled {
      do {
        if let letter = redrives.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
          try await redeliver(letter)
          continue
        }
        let rows = try await ledger.changes(afterId: cursor, limit: batchSize)
        try await observeLag(cursor: cursor, oldest: rows.first)
        guard let first = rows.first, let last = rows.last else {
          try await Task.sleep(for: Self.idlePoll)
          continue
        }
        let batch = OutputBatch(
          firstChangeId: ChangeFeed.id(first), lastChangeId: ChangeFeed.id(last), changes: rows.map(Self.render))
        do {
          try await destination.deliver(batch)
          try await ledger.advanceOutputCursor(name, to: batch.lastChangeId)
          meters.delivered.increment(by: Int64(rows.count))
          state.withLock {
            $0.delivered += Int64(rows.count)
            $0.lastError = nil
            $0.lastDeliveredUtc = UTCTime.now()
          }
          failures = 0
        } catch OutputFailure.refused(let status, let response) {
          let letter = try await ledger.deadLetter(
            output: name, firstChangeId: batch.firstChangeId, lastChangeId: batch.lastChangeId, status: status,
            response: response)
          meters.deadLetters.increment()
          state.withLock {
            $0.deadLetters += 1
            $0.lastError = "changes \(batch.firstChangeId)-\(batch.lastChangeId) refused with \(status): dead letter \(letter.id)"
          }
          logger.warning("destination refused changes \(batch.firstChangeId)-\(batch.lastChangeId) with \(status): dead letter \(letter.id); delivery moves on")
        }
        cursor = batch.lastChangeId
        state.withLock { $0.cursor = cursor }
      } catch is CancellationError {
        break
      } catch {
        // The same batch again, in order, after a capped exponential backoff with jitter.
        failures += 1
        meters.retries.increment()
        let text = "\(error)"
        state.withLock {
          $0.retries += 1
          $0.lastError = text
        }
        let delay = Self.backoff(failures: failures, ceiling: destination.retryCeiling)
        if failures <= 3 || failures % 10 == 0 {
          logger.warning("delivery failed (\(failures) in a row): \(text); next try in \(delay)")
        }
        try? await Task.sleep(for: delay)
      }
    }
    logger.info("output stopped at change \(cursor)")
  }

  /// Delivers a dead letter's changes again; marks it re-driven once confirmed.
  private func redeliver(_ letter: OutputDeadLetter) async throws {
    let count = Int(min(Int64(10_000), letter.lastChangeId - letter.firstChangeId + 1))
    let rows = try await ledger.changes(afterId: letter.firstChangeId - 1, limit: max(1, count))
      .filter { ChangeFeed.id($0) <= letter.lastChangeId }
    if !rows.isEmpty {
      do {
        try await destination.deliver(OutputBatch(
          firstChangeId: letter.firstChangeId, lastChangeId: letter.lastChangeId, changes: rows.map(Self.render)))
      } catch OutputFailure.refused(let status, _) {
        logger.warning("dead letter \(letter.id) refused again with \(status); it stays")
        return
      }
    }
    _ = try await ledger.markRedriven(output: name, id: letter.id)
    logger.info("dead letter \(letter.id) (changes \(letter.firstChangeId)-\(letter.lastChangeId)) re-driven")
  }

  private func observeLag(cursor: Int64, oldest: LedgerRecord?) async throws {
    let last = try await ledger.lastChangeId()
    let behind = max(0, last - cursor)
    var seconds = 0.0
    if behind > 0, let received = oldest?.text("received_utc"), let date = Self.utc(received) {
      seconds = max(0, Date().timeIntervalSince(date))
    }
    meters.lagChanges.set(Double(behind))
    meters.lagSeconds.set(seconds)
    state.withLock {
      $0.lastChangeId = last
      $0.lagSeconds = seconds
    }
  }

  static func render(_ row: LedgerRecord) -> String {
    var json = JSONWriter()
    json.object { ChangeFeed.change(row, into: &$0) }
    return json.text
  }

  static func backoff(failures: Int, ceiling: Duration = maxBackoff) -> Duration {
    let base = 0.1 * pow(2, Double(min(failures, 20) - 1))
    let capped = min(base, Double(ceiling.components.seconds) + Double(ceiling.components.attoseconds) / 1e18)
    return .milliseconds(Int64(capped * 1000 * Double.random(in: 0.5...1.0)))
  }

  private static func utc(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
  }
}
