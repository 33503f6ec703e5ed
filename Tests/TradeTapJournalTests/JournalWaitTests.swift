import Foundation
import Testing
import TradeTapJournal

/// The adaptive wait: a consumer that read records recently polls briefly instead of
/// parking, so hooks of a steady stream never make the wake-up system call; after a
/// quiet window it parks and the next hook wakes it with one.
@Suite("Journal wait", .serialized)
struct JournalWaitTests {
  static let warmWindow: Int64 = 5_000_000_000
  static let warmPoll: Int64 = 50_000

  @Test func aHookCommittingWhileTheConsumerIsWarmMakesNoSystemCall() throws {
    let writes = try hookWritesWhileConsumerWaits(warmWindowNanoseconds: Self.warmWindow)
    #expect(writes.delivered)
    #expect(writes.hookWriteCalls == 0, "the hook found the consumer unparked")
  }

  @Test func afterAQuietWindowTheConsumerParksAndTheNextHookWakesItWithOneWrite() throws {
    // Window 10 ms, hook after 300 ms: the consumer has parked by then.
    let writes = try hookWritesWhileConsumerWaits(warmWindowNanoseconds: 10_000_000)
    #expect(writes.delivered)
    #expect(writes.hookWriteCalls == 1, "the hook signalled the parked consumer's eventfd")
    #expect(writes.waitCalls < 1_000, "parked, not polling every 50 µs for 300 ms")
  }

  @Test func wakeConsumerEndsAWarmWaitAsWellAsAParkedOne() throws {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let journal = try Journal.open(directory: directory, sizeMB: 1)
    append(journal, [1])
    _ = journal.nextRecord()
    let ended = ManagedAtomicFlag()
    let started = ContinuousClock.now
    onThreads(2) { role in
      if role == 0 {
        // Warm for 5 s, timeout 20 s: only the wake can end it early.
        let woke = journal.waitForRecord(
          spinIterations: 10, timeoutNanoseconds: 20_000_000_000, orReadable: [],
          warmWindowNanoseconds: Self.warmWindow, warmPollNanoseconds: Self.warmPoll)
        if !woke.recordReady { ended.set() }
      } else {
        usleep(100_000)
        journal.wakeConsumer()  // what Sender.stop and parametersChanged do
      }
    }
    #expect(ended.isSet)
    #expect(ContinuousClock.now - started < .seconds(3))
  }

  struct Outcome {
    var delivered: Bool
    var hookWriteCalls: Int
    var waitCalls: Int
  }

  /// A consumer reads one record, then loops on `waitForRecord` until the next one;
  /// 300 ms later another thread commits it. Counts that thread's `write` system calls
  /// across the commit (/proc/thread-self/io `syscw`).
  func hookWritesWhileConsumerWaits(warmWindowNanoseconds: Int64) throws -> Outcome {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let journal = try Journal.open(directory: directory, sizeMB: 1)
    append(journal, [1])
    _ = journal.nextRecord()
    let delivered = ManagedAtomicFlag()
    let writes = Counter(), waits = Counter()
    onThreads(2) { role in
      if role == 0 {
        let deadline = ContinuousClock.now + .seconds(10)
        var calls = 0
        while ContinuousClock.now < deadline {
          calls += 1
          let woke = journal.waitForRecord(
            spinIterations: 10, timeoutNanoseconds: 20_000_000_000, orReadable: [],
            warmWindowNanoseconds: warmWindowNanoseconds, warmPollNanoseconds: Self.warmPoll)
          if woke.recordReady, journal.nextRecord() != nil {
            delivered.set()
            break
          }
        }
        waits.set(calls)
      } else {
        usleep(300_000)
        let before = threadWriteCalls()
        append(journal, [2])
        writes.set(threadWriteCalls() - before)
      }
    }
    return Outcome(delivered: delivered.isSet, hookWriteCalls: writes.value, waitCalls: waits.value)
  }
}

/// `write`-family system calls made so far by the calling thread.
private func threadWriteCalls() -> Int {
  guard let text = try? String(contentsOfFile: "/proc/thread-self/io", encoding: .utf8) else { return -1_000_000 }
  for line in text.split(separator: "\n") where line.hasPrefix("syscw:") {
    return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? -1_000_000
  }
  return -1_000_000
}

private final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var stored = 0
  func set(_ value: Int) { lock.withLock { stored = value } }
  var value: Int { lock.withLock { stored } }
}
