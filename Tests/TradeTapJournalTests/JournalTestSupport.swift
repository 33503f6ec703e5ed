import Foundation
import TradeTapJournal

/// A fresh temporary folder per test.
func temporaryJournalDirectory(_ name: String = #function) -> String {
  let base = FileManager.default.temporaryDirectory.path
  let safe = name.filter { $0.isLetter || $0.isNumber }
  let path = "\(base)/tradetap-journal-tests-\(getpid())-\(safe)-\(UInt32.random(in: 0...UInt32.max))"
  try? FileManager.default.removeItem(atPath: path)
  return path
}

/// Appends one record whose payload is `words` (UInt64 each); nil when full.
@discardableResult
func append(_ journal: Journal, kind: UInt16 = 1, _ words: [UInt64]) -> UInt64? {
  guard let slot = journal.producer.claim() else { return nil }
  for (index, word) in words.enumerated() {
    slot.payload.storeBytes(of: word, toByteOffset: index * 8, as: UInt64.self)
  }
  journal.producer.commit(
    slot, kind: kind, flags: [], mode: 0, declaredSize: UInt32(words.count * 8),
    declaredSecondarySize: 0, payloadLength: UInt32(words.count * 8))
  return slot.sequence
}

func words(_ record: JournalRecord) -> [UInt64] {
  (0..<(record.payload.count / 8)).map { record.payload.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
}

/// Runs `body(index)` on `count` real threads at once and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
  let group = DispatchGroup()
  for index in 0..<count {
    group.enter()
    Thread.detachNewThread {
      body(index)
      group.leave()
    }
  }
  group.wait()
}
