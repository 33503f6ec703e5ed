import Foundation
import Testing
import TradeTapJournal

@Suite("Journal")
struct JournalTests {
  @Test func concurrentProducersReceiveGapFreeSequenceNumbers() throws {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let journal = try Journal.open(directory: directory, sizeMB: 32)
    let threads = 4, perThread = 10_000
    onThreads(threads) { thread in
      for counter in 0..<perThread {
        #expect(append(journal, [UInt64(thread), UInt64(counter)]) != nil)
      }
    }
    var nextCounter = [UInt64](repeating: 0, count: threads)
    var expected: UInt64 = 0
    while let record = journal.nextRecord() {
      #expect(record.sequence == expected)
      let payload = words(record)
      let thread = Int(payload[0])
      #expect(payload[1] == nextCounter[thread])  // each thread's records in its own order
      nextCounter[thread] += 1
      expected += 1
    }
    #expect(expected == UInt64(threads * perThread))
    #expect(nextCounter == [UInt64](repeating: UInt64(perThread), count: threads))
  }

  @Test func readerWrapsAroundTheRingWhileProducersWrite() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)  // 2048 slots
    let total: UInt64 = 20_000
    let done = ManagedAtomicFlag()
    onThreads(2) { role in
      if role == 0 {
        var value: UInt64 = 0
        while value < total {
          if append(journal, [value, value &* 31]) != nil { value += 1 }
        }
        done.set()
      } else {
        var expected: UInt64 = 0
        while expected < total {
          guard let record = journal.nextRecord() else { continue }
          if record.kind == journalGapKind { continue }  // overflow while the reader lagged
          let payload = words(record)
          #expect(payload == [expected, expected &* 31])
          expected += 1
          journal.release(through: record.sequence)
        }
      }
    }
    #expect(done.isSet)
    #expect(journal.statistics.nextSequence >= total)
    #expect(journal.statistics.nextSequence > journal.statistics.capacity * 5)
  }

  @Test func fullJournalRefusesWithoutConsumingSequenceNumbersAndReportsAGap() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)
    let capacity = journal.statistics.capacity
    for value in 0..<capacity { #expect(append(journal, [value]) == value) }
    for _ in 0..<5 { #expect(append(journal, [999]) == nil) }
    #expect(journal.statistics.overflowPending == 5)
    #expect(journal.statistics.overflowedTotal == 5)
    #expect(journal.statistics.nextSequence == capacity)

    for _ in 0..<10 { _ = journal.nextRecord() }
    journal.release(through: 9)  // space returns: the release writes the gap record
    #expect(journal.statistics.overflowPending == 0)
    #expect(append(journal, [7777]) == capacity + 1)

    while let record = journal.nextRecord(), record.sequence < capacity - 1 {}
    let gap = try #require(journal.nextRecord())
    #expect(gap.sequence == capacity)
    #expect(gap.kind == journalGapKind)
    #expect(gap.flags.contains(.gapOverflow))
    #expect(gap.gapCount == 5)
    let after = try #require(journal.nextRecord())
    #expect(words(after) == [7777])
  }

  @Test func nextClaimantReportsOverflowWhenSpaceReturnsWithoutTheReader() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)
    let capacity = journal.statistics.capacity
    for value in 0..<capacity { append(journal, [value]) }
    #expect(append(journal, [1]) == nil)
    for _ in 0..<capacity { _ = journal.nextRecord() }
    // Release without the reader's gap flush: a claimant must write the gap itself.
    journal.release(through: 0)  // flushes immediately (one slot is free)
    let gap = try #require(journal.nextRecord())
    #expect(gap.gapCount == 1)
    #expect(append(journal, [2]) == nil)  // full again: 1 more refused
    journal.release(through: 3)
    #expect(append(journal, [3]) == capacity + 2)  // gap took capacity + 1
    let second = try #require(journal.nextRecord())
    #expect(second.gapCount == 1)
    #expect(words(try #require(journal.nextRecord())) == [3])
  }

  @Test func claimedButNeverCommittedSlotsBecomeGapRecordsOnReopen() throws {
    let directory = temporaryJournalDirectory()
    do {
      let journal = try Journal.open(directory: directory, sizeMB: 1)
      append(journal, [10])
      _ = try #require(journal.producer.claim())  // the "host" dies before committing 1
      append(journal, [12])
      journal.close()
    }
    let reopened = try Journal.open(directory: directory, sizeMB: 1)
    #expect(reopened.recovery.uncommittedSequences == [1])
    #expect(reopened.recovery.pendingRecords == 3)
    #expect(reopened.statistics.uncommittedTotal == 1)
    #expect(words(try #require(reopened.nextRecord())) == [10])
    let gap = try #require(reopened.nextRecord())
    #expect(gap.sequence == 1)
    #expect(gap.flags.contains(.gapUncommitted))
    #expect(gap.gapCount == 1)
    #expect(words(try #require(reopened.nextRecord())) == [12])
    #expect(reopened.nextRecord() == nil)
  }

  @Test func releasedPositionAndRecordsPersistAcrossReopen() throws {
    let directory = temporaryJournalDirectory()
    do {
      let journal = try Journal.open(directory: directory, sizeMB: 1)
      for value in 0..<10 { append(journal, [UInt64(value) * 100]) }
      for _ in 0..<5 { _ = journal.nextRecord() }
      journal.release(through: 4)
      journal.close()
    }
    let reopened = try Journal.open(directory: directory, sizeMB: 1)
    #expect(reopened.recovery.resumeSequence == 5)
    #expect(reopened.recovery.uncommittedSequences.isEmpty)
    var seen: [UInt64] = []
    while let record = reopened.nextRecord() { seen.append(words(record)[0]) }
    #expect(seen == [500, 600, 700, 800, 900])
    #expect(append(reopened, [1]) == 10)
  }

  @Test func unreportedOverflowSurvivesReopenAndIsReportedFirst() throws {
    let directory = temporaryJournalDirectory()
    do {
      let journal = try Journal.open(directory: directory, sizeMB: 1)
      let capacity = journal.statistics.capacity
      for value in 0..<capacity { append(journal, [value]) }
      #expect(append(journal, [0]) == nil)
      #expect(append(journal, [0]) == nil)
      for _ in 0..<capacity { _ = journal.nextRecord() }
      // Acknowledged, but the process dies before any gap is written.
      let header = journal.statistics
      #expect(header.overflowPending == 2)
      journal.close()
    }
    let reopened = try Journal.open(directory: directory, sizeMB: 1)
    #expect(reopened.statistics.overflowPending == 2)  // still full: nothing acknowledged
    while reopened.nextRecord() != nil {}
    reopened.release(through: reopened.nextSequenceToRead - 1)
    let gap = try #require(reopened.nextRecord())
    #expect(gap.gapCount == 2)
    #expect(gap.flags.contains(.gapOverflow))
  }

  @Test func seekRewindsToTheReleasedPointForResend() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)
    for value in 0..<8 { append(journal, [UInt64(value)]) }
    while journal.nextRecord() != nil {}
    journal.release(through: 2)
    #expect(journal.seek(to: 0) == 3)  // cannot go below the released point
    #expect(words(try #require(journal.nextRecord())) == [3])
    #expect(journal.seek(to: 100) == 8)  // cannot pass the last committed record
  }

  @Test func parkedConsumerIsWokenByTheNextCommit() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)
    let result = ManagedAtomicFlag()
    let started = ContinuousClock.now
    onThreads(2) { role in
      if role == 0 {
        if journal.waitForRecord(spinIterations: 10, timeoutNanoseconds: 20_000_000_000) { result.set() }
      } else {
        usleep(100_000)  // let the consumer park
        append(journal, [42])
      }
    }
    #expect(result.isSet)
    // Woken by the hook's eventfd wake, not by the 20 s timeout.
    #expect(ContinuousClock.now - started < .seconds(10))
  }

  @Test func parkedConsumerIsWokenByAWatchedDescriptorWithoutARecord() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)
    var ends: [Int32] = [-1, -1]
    #expect(pipe(&ends) == 0)
    let (readEnd, writeEnd) = (ends[0], ends[1])
    defer { close(readEnd); close(writeEnd) }
    let readableOnly = ManagedAtomicFlag()
    let started = ContinuousClock.now
    onThreads(2) { role in
      if role == 0 {
        let woke = journal.waitForRecord(spinIterations: 10, timeoutNanoseconds: 20_000_000_000, orReadable: [readEnd])
        if !woke.recordReady && woke.readableDescriptors == 1 { readableOnly.set() }
      } else {
        usleep(100_000)  // let the consumer park
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
      }
    }
    #expect(readableOnly.isSet)
    #expect(ContinuousClock.now - started < .seconds(10))
    // A commit after the wait still finds the consumer's next wait.
    append(journal, [7])
    #expect(journal.waitForRecord(spinIterations: 0, timeoutNanoseconds: 1_000_000, orReadable: [readEnd]).recordReady)
  }

  @Test func hookTimestampsReadAsMonotonicNanoseconds() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)
    usleep(20_000)  // away from the calibration origin
    let before = monotonicNanoseconds()
    append(journal, [1])
    let after = monotonicNanoseconds()
    let record = try #require(journal.nextRecord())
    // Within 100 µs of the window the hook ran in (the conversion is linear from a calibrated rate).
    #expect(record.hookMonotonicNanoseconds + 100_000 >= before)
    #expect(record.hookMonotonicNanoseconds <= after + 100_000)
  }

  @Test func secondOpenOfTheSameJournalIsRefused() throws {
    let directory = temporaryJournalDirectory()
    let journal = try Journal.open(directory: directory, sizeMB: 1)
    #expect(throws: JournalError.locked(path: journal.path)) {
      _ = try Journal.open(directory: directory, sizeMB: 1)
    }
    journal.close()
    _ = try Journal.open(directory: directory, sizeMB: 1)
  }

  @Test func consumerAccessorsAfterCloseKeepTheLastReleasedPointAndTouchNoUnmappedMemory() throws {
    let journal = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 1)
    for value in 0..<3 { append(journal, [UInt64(value)]) }
    while journal.nextRecord() != nil {}
    journal.release(through: 1)
    journal.close()
    // The header is unmapped now: each of these read it before the fix (SIGSEGV).
    #expect(journal.releasedSequence == 2)
    #expect(journal.seek(to: 0) == 3)
    #expect(!journal.hasRecordToRead)
    #expect(journal.nextRecord() == nil)
    journal.wakeConsumer()
    journal.release(through: 2)
    #expect(journal.releasedSequence == 2)
    #expect(journal.statistics.capacity == 0)
  }

  @Test func emptyJournalIsResizedAndKeepsItsSequenceNumbers() throws {
    let directory = temporaryJournalDirectory()
    do {
      let journal = try Journal.open(directory: directory, sizeMB: 1)
      for value in 0..<3 { append(journal, [UInt64(value)]) }
      while journal.nextRecord() != nil {}
      journal.release(through: 2)
      journal.close()
    }
    let resized = try Journal.open(directory: directory, sizeMB: 2)
    #expect(resized.statistics.capacity == 4096)
    #expect(append(resized, [3]) == 3)
  }

  @Test func nonEmptyJournalKeepsItsGeometryWhenTheSizeParameterChanges() throws {
    let directory = temporaryJournalDirectory()
    do {
      let journal = try Journal.open(directory: directory, sizeMB: 1)
      append(journal, [5])
      journal.close()
    }
    let reopened = try Journal.open(directory: directory, sizeMB: 2)
    #expect(reopened.statistics.capacity == 2048)
    #expect(words(try #require(reopened.nextRecord())) == [5])
  }

  @Test func aFileThatIsNotAJournalIsMovedAsideIntactAndAFreshJournalStartsInItsPlace() throws {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = directory + "/journal.ttj"
    let garbage = Data(repeating: 0x5A, count: 8192)
    FileManager.default.createFile(atPath: path, contents: garbage)
    let journal = try Journal.open(directory: directory, sizeMB: 1)
    let replaced = try #require(journal.recovery.replaced)
    #expect(replaced.reason == "bad magic")
    #expect(replaced.movedTo.hasPrefix(path + ".damaged-"))
    #expect(FileManager.default.contents(atPath: replaced.movedTo) == garbage)
    #expect(journal.freshness == .freshAfterLoss)
    #expect(append(journal, [7]) == 0)
  }

  @Test(arguments: ["empty", "header", "truncated"])
  func aDamagedJournalIsMovedAsideAndTheFreshOneKnowsEventsWereLost(damage: String) throws {
    let directory = temporaryJournalDirectory(damage)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/journal.ttj"
    do {
      let journal = try Journal.open(directory: directory, sizeMB: 1)
      for value in 0..<10 { append(journal, [UInt64(value)]) }
      journal.close()
    }
    switch damage {
    case "empty": #expect(truncate(path, 0) == 0)
    case "truncated": #expect(truncate(path, 4096 + 512 * 100) == 0)
    default:
      let handle = try #require(FileHandle(forWritingAtPath: path))
      try handle.write(contentsOf: Data(repeating: 0, count: 4096))
      try handle.close()
    }
    let journal = try Journal.open(directory: directory, sizeMB: 1)
    let replaced = try #require(journal.recovery.replaced)
    #expect(FileManager.default.fileExists(atPath: replaced.movedTo))
    #expect(journal.freshness == .freshAfterLoss)
    #expect(journal.recovery.pendingRecords == 0)
    #expect(append(journal, [1]) == 0)
    let kept = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".damaged-") }
    #expect(kept.count == 1)
  }

  @Test func aNewJournalIsFreshUntilSettledAndItsWireOffsetSurvivesACrash() throws {
    let directory = temporaryJournalDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
      let journal = try Journal.open(directory: directory, sizeMB: 1)
      #expect(journal.freshness == .fresh)
      #expect(journal.wireOffset == 0)
      #expect(journal.recovery.replaced == nil)
      append(journal, [1])
      journal.settle(wireOffset: 5001)
      #expect(journal.freshness == .settled)
      journal.settle(wireOffset: 9)  // ignored once settled
      // Nothing but stores into the shared mapping: they survive the process (kill -9 too).
    }
    let reopened = try Journal.open(directory: directory, sizeMB: 1)
    #expect(reopened.freshness == .settled)
    #expect(reopened.wireOffset == 5001)
    #expect(words(try #require(reopened.nextRecord())) == [1])
  }

  @Test func sizeOutsideTheSupportedRangeIsRejected() {
    #expect(throws: JournalError.invalidSize(megabytes: 0)) {
      _ = try Journal.open(directory: temporaryJournalDirectory(), sizeMB: 0)
    }
  }
}

func monotonicNanoseconds() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// A flag set by one thread and read by another (tests only).
final class ManagedAtomicFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  func set() { lock.withLock { value = true } }
  var isSet: Bool { lock.withLock { value } }
}
