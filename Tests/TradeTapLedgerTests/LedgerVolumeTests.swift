import Foundation
import GRDB
import Testing
import TradeTapEvents
import TradeTapLedger

/// Volume, checked for exactness. The rate is printed for the README, never asserted.
@Suite("Ledger: a large stream is applied exactly")
struct LedgerVolumeTests {
  @Test func twoHundredThousandDealsInGroupCommitsLandOnce() throws {
    let (ledger, _) = try Fixtures.ledger()
    let batches = stride(from: UInt64(1), through: 200_000, by: 1000).map { first in
      LedgerBatch(serverId: Fixtures.serverId, events: (first..<first + 1000).map { Fixtures.deal($0, order: $0, seq: $0) })
    }
    let start = ContinuousClock.now
    // 20 batches per transaction, as the collector's group commit takes them under load.
    for group in stride(from: 0, to: batches.count, by: 20) {
      try ledger.writer.commit(Array(batches[group..<min(group + 20, batches.count)]))
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("ledger: 200000 deals durable (synchronous=FULL) in \(String(format: "%.2f", seconds)) s = \(Int(200_000 / seconds)) events/s")
    #expect(try ledger.read { try DealRow.fetchCount($0) } == 200_000)
    #expect(try ledger.writer.durableSequence(serverId: Fixtures.serverId) == 200_000)
  }
}
