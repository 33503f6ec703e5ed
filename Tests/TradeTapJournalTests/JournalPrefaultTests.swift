import Foundation
import Testing
import TradeTapJournal

/// The slots ahead of the tail are kept writable (JournalPrefault.swift): harmless
/// to the records, and it removes the hooks' page faults. Bounds, never timings.
@Suite("Journal prefault")
struct JournalPrefaultTests {
  /// Minor page faults taken by the calling thread so far.
  private func threadMinorFaults() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD
    return usage.ru_minflt
  }

  @Test func prefaultRacingTwoProducersAcrossTheWrapLosesNothing() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 2)  // 4,096 slots
    defer { journal.close() }
    let capacity = Int(journal.producer.capacity)
    for lap in 0..<3 {
      let stop = PrefaultStopFlag()
      let prefaulter = Thread { while !stop.isSet { journal.prefaultAhead() } }
      prefaulter.start()
      onThreads(2) { thread in
        for index in 0..<(capacity / 2) {
          let word = UInt64(lap) << 48 | UInt64(thread) << 32 | UInt64(index)
          #expect(append(journal, [word, ~word, word &* 31]) != nil)
        }
      }
      stop.set()
      var seen = Set<UInt64>()
      var last: UInt64 = 0
      while let record = journal.nextRecord() {
        let payload = words(record)
        #expect(payload.count == 3)
        #expect(payload[1] == ~payload[0] && payload[2] == payload[0] &* 31)
        #expect(payload[0] >> 48 == UInt64(lap))
        seen.insert(payload[0])
        last = record.sequence
      }
      #expect(seen.count == capacity)
      journal.release(through: last)
    }
  }

  @Test func appendsAfterWritebackAndPrefaultTakeAlmostNoPageFaults() throws {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }  // 64 MB
    let journal = try Journal.open(directory: directory, sizeMB: 64)  // the whole window
    defer { journal.close() }
    let appends = 50_000  // 25 MB of slots, ~6,100 pages: inside the 32 MB window
    // Write back and clean every page: the kernel write-protects them again, which
    // is what a running journal meets one lap later.
    let descriptor = open(journal.path, O_RDWR)
    #expect(fdatasync(descriptor) == 0)
    close(descriptor)
    journal.prefaultAhead()
    let before = threadMinorFaults()
    for index in 0..<appends { append(journal, [UInt64(index)]) }
    let faults = threadMinorFaults() - before
    // Unprefaulted, these appends take hundreds of faults (one per page or per
    // large folio); prefaulted, only a stray one (the test's own stack, say).
    #expect(faults <= 16, "\(faults) minor faults in \(appends) appends")
    var count = 0
    while let record = journal.nextRecord() {
      #expect(words(record) == [UInt64(count)])
      count += 1
    }
    #expect(count == appends)
  }

  @Test func withoutPrefaultTheSamePagesFault() throws {
    // The control for the bound above: the same 25 MB written through a mapping of
    // the file that nothing prefaulted (one word per page, a slot's reserved word)
    // is seen by the counter.
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }  // 64 MB
    let journal = try Journal.open(directory: directory, sizeMB: 64)
    defer { journal.close() }
    let descriptor = open(journal.path, O_RDWR)
    defer { close(descriptor) }
    let length = 4096 + 25 << 20
    let mapped = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0))
    defer { munmap(mapped, length) }
    #expect(fdatasync(descriptor) == 0)
    let before = threadMinorFaults()
    for offset in stride(from: 4096, to: length, by: 4096) {
      (mapped + offset + 44).storeBytes(of: 0, as: UInt32.self)
    }
    #expect(threadMinorFaults() - before > 16)
  }
}

/// A stop flag for the test's racing thread.
private final class PrefaultStopFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  var isSet: Bool { lock.withLock { value } }
  func set() { lock.withLock { value = true } }
}
