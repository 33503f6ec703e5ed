import Foundation
import Testing
import TradeTapJournal

/// `Sender.Idle = busy-spin | yield` (issue 16): the consumer never sleeps and never
/// sets `parked`, so a committing hook makes no system call; a stop still ends the wait.
@Suite("Journal spin wait", .serialized)
struct JournalSpinWaitTests {
  @Test(arguments: [false, true])
  func aHookCommittingWhileTheConsumerSpinsMakesNoSystemCall(yielding: Bool) throws {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let journal = try Journal.open(directory: directory, sizeMB: 1)
    append(journal, [1])
    _ = journal.nextRecord()
    let delivered = ManagedAtomicFlag()
    let writes = SpinCounter()
    onThreads(2) { role in
      if role == 0 {
        for _ in 0..<1_000 {  // each wait ends by itself after 20 ms at most
          let woke = journal.spinForRecord(timeoutNanoseconds: 20_000_000, orReadable: [], yielding: yielding)
          if woke.recordReady, journal.nextRecord() != nil {
            delivered.set()
            break
          }
        }
      } else {
        usleep(100_000)
        let before = spinThreadWriteCalls()
        append(journal, [2])
        writes.set(spinThreadWriteCalls() - before)
      }
    }
    #expect(delivered.isSet)
    #expect(writes.value == 0, "the hook found the consumer unparked")
  }

  @Test(arguments: [false, true])
  func wakeConsumerEndsASpinWait(yielding: Bool) throws {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let journal = try Journal.open(directory: directory, sizeMB: 1)
    let ended = ManagedAtomicFlag()
    onThreads(2) { role in
      if role == 0 {
        // Timeout 60 s: only the wake (what Sender.stop does) can end it early.
        let woke = journal.spinForRecord(timeoutNanoseconds: 60_000_000_000, orReadable: [], yielding: yielding)
        if !woke.recordReady { ended.set() }
      } else {
        usleep(100_000)
        journal.wakeConsumer()
      }
    }
    #expect(ended.isSet)
  }
}

/// `write`-family system calls made so far by the calling thread.
private func spinThreadWriteCalls() -> Int {
  guard let text = try? String(contentsOfFile: "/proc/thread-self/io", encoding: .utf8) else { return -1_000_000 }
  for line in text.split(separator: "\n") where line.hasPrefix("syscw:") {
    return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? -1_000_000
  }
  return -1_000_000
}

private final class SpinCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var stored = 0
  func set(_ value: Int) { lock.withLock { stored = value } }
  var value: Int { lock.withLock { stored } }
}
