import Foundation
import GRDB
import Testing
import TradeTapEvents
import TradeTapLedger

@Suite("Ledger: applying the same events again changes nothing")
struct LedgerIdempotenceTests {
  static let tables = [
    "servers", "accounts", "deals", "orders", "positions", "trades", "balance_operations", "events",
    "quarantine", "gaps",
  ]

  /// Every row of every table, as text, except connection timestamps.
  static func dump(_ ledger: Ledger) throws -> [String] {
    try ledger.read { db in
      try tables.flatMap { table in
        try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid").map { "\(table) \($0)" }
      }
    }
  }

  static func tradingDay() -> [Event] {
    [
      Fixtures.user(1001, balance: "0.00", seq: 1, kind: .userAdd),
      Fixtures.deal(10, action: .balance, entry: .in, profit: "1000.00", comment: "deposit #1", seq: 2),
      Fixtures.user(1001, balance: "1000.00", seq: 3),
      Fixtures.deal(11, seq: 4),
      Fixtures.position(900, volumeExt: 100_000_000, seq: 5, kind: .positionAdd),
      Fixtures.deal(12, action: .sell, entry: .out, profit: "12.50", seq: 6),
      Fixtures.position(900, volumeExt: 0, seq: 7, kind: .positionDelete),
      Fixtures.user(1001, balance: "1011.80", seq: 8),
    ]
  }

  @Test func sameBatchTwiceLeavesTheSameRows() throws {
    let (ledger, _) = try Fixtures.ledger()
    let first = try ledger.writer.commit([LedgerBatch(serverId: Fixtures.serverId, events: Self.tradingDay())])
    let before = try Self.dump(ledger)
    let second = try ledger.writer.commit([LedgerBatch(serverId: Fixtures.serverId, events: Self.tradingDay())])
    #expect(try Self.dump(ledger) == before)
    #expect(first.appliedEvents == 8)
    #expect(second.appliedEvents == 0)
    #expect(second.duplicateEvents == 8)
    #expect(second.durableSequence[Fixtures.serverId] == 8)
  }

  @Test func redeliveredTailAfterAResumeIsAppliedOnce() throws {
    let (ledger, _) = try Fixtures.ledger()
    let day = Self.tradingDay()
    try ledger.writer.apply(Array(day[0..<5]))
    // The plugin did not get the ack: it resends from 3, with 6...8 after it.
    let durable = try ledger.writer.apply(Array(day[2...]))
    #expect(durable == 8)
    let deals = try ledger.read { try DealRow.fetchAll($0) }
    #expect(deals.map(\.deal) == [10, 11, 12])
    let events = try ledger.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM events") }
    #expect(events == 8)
  }

  @Test func durableSequenceIsTheResumePointAfterReopening() throws {
    let (ledger, path) = try Fixtures.ledger()
    try ledger.writer.apply(Self.tradingDay())
    #expect(try ledger.writer.durableSequence(serverId: Fixtures.serverId) == 8)
    #expect(try ledger.writer.durableSequence(serverId: 99) == 0)
    let reopened = try Ledger(path: path)
    #expect(try reopened.writer.durableSequence(serverId: Fixtures.serverId) == 8)
  }

  @Test func groupCommitKeepsEachServersSequenceApart() throws {
    let (ledger, _) = try Fixtures.ledger()
    let other: UInt32 = 8
    let commit = try ledger.writer.commit([
      LedgerBatch(serverId: Fixtures.serverId, events: [Fixtures.deal(1, seq: 1), Fixtures.deal(2, seq: 2)]),
      LedgerBatch(serverId: other, events: [Fixtures.deal(1, seq: 1, server: other)]),
      LedgerBatch(serverId: Fixtures.serverId, events: [Fixtures.deal(3, seq: 3)]),
    ])
    #expect(commit.durableSequence == [Fixtures.serverId: 3, other: 1])
    let perServer = try ledger.read {
      try Row.fetchAll($0, sql: "SELECT server_id, count(*) AS n FROM deals GROUP BY server_id ORDER BY server_id")
        .map { [$0["server_id"] as Int64, $0["n"] as Int64] }
    }
    #expect(perServer == [[7, 3], [8, 1]])
  }

  @Test func aBatchOfSeveralServersIsRefusedByApply() throws {
    let (ledger, _) = try Fixtures.ledger()
    #expect(throws: LedgerError.mixedServers) {
      try ledger.writer.apply([Fixtures.deal(1, seq: 1), Fixtures.deal(2, seq: 2, server: 8)])
    }
    #expect(try ledger.writer.durableSequence(serverId: Fixtures.serverId) == 0)
  }
}
