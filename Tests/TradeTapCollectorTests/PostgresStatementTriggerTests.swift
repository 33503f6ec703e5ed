import Foundation
import GRDB
import PostgresNIO
import Testing
import TradeTapEvents
import TradeTapLedger
import TradeTapLedgerPostgres

/// The PostgreSQL migration `pg statement-level triggers` (docs/ledger.md, "PostgreSQL:
/// per-statement triggers") checks per statement what was checked per row: the change
/// feed appends exactly the events inserted, in commit order, and `server_id` still
/// refers to a server, with the foreign key's error class.
@Suite("PostgreSQL statement-level triggers keep the change feed and the server references", .serialized)
struct PostgresStatementTriggerTests {
  static func deal(_ seq: UInt64, server: UInt32) -> Event {
    let time = BrokerTime(brokerMilliseconds: 1_764_000_000_000 + Int64(seq), utcOffsetMinutes: 0)
    return Event(serverId: server, sequence: seq, kind: .dealAdd, hookTimestampNanos: seq, utcOffsetMinutes: 0, body: .deal(Deal(
      deal: 10_000 + seq, externalId: "", login: 1001, order: 500 + seq, positionId: 900 + seq, action: .buy, entry: .in,
      reason: 0, symbol: "EURUSD", digits: 5, currencyDigits: 2, time: time, price: ExactDecimal("1.08345")!,
      volumeExt: 100_000_000, contractSize: ExactDecimal("100000")!, profit: ExactDecimal("12.50")!,
      commission: ExactDecimal("-0.70")!, storage: ExactDecimal("0.00")!, fee: ExactDecimal("0.00")!, comment: "")))
  }

  static func batch(_ seqs: ClosedRange<UInt64>, _ server: UInt32) -> LedgerBatch {
    LedgerBatch(serverId: server, events: seqs.map { deal($0, server: server) })
  }

  static func withLedger(_ body: (PostgresLedger) async throws -> Void) async throws {
    let database = try await TestPostgres.createDatabase()
    let ledger = try await PostgresLedger.open(url: database.url)
    do {
      try await body(ledger)
    } catch {
      await ledger.close()
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    await ledger.close()
    try await TestPostgres.dropDatabase(database)
  }

  /// Runs `sql`, expecting PostgreSQL to refuse it with `state`.
  static func expectRefused(_ ledger: PostgresLedger, _ sql: String, state: String) async {
    do {
      _ = try await ledger.read(PostgresQuery(unsafeSQL: sql))
      Issue.record("not refused: \(sql)")
    } catch let error as PSQLError {
      #expect(error.serverInfo?[.sqlState] == state, "\(sql): \(String(reflecting: error))")
    } catch {
      Issue.record("\(sql): \(error)")
    }
  }

  @Test func theChangeFeedAppendsExactlyTheInsertedEventsInCommitOrder() async throws {
    try await Self.withLedger { ledger in
      _ = try await ledger.commitAsync([Self.batch(1...5, 8), Self.batch(1...3, 7)])
      // A replay (all duplicates) and an overlap (two new) in the next commit.
      _ = try await ledger.commitAsync([Self.batch(1...5, 8), Self.batch(2...5, 7)])
      let changes = try await ledger.read("SELECT id, server_id, seq FROM changes ORDER BY id")
      let order = changes.map { "\($0.integer("server_id") ?? -1):\($0.integer("seq") ?? -1)" }
      #expect(order == ["8:1", "8:2", "8:3", "8:4", "8:5", "7:1", "7:2", "7:3", "7:4", "7:5"])
      #expect(try await ledger.rowCount(.events) == 10)
      #expect(try await ledger.rowCount(.deals) == 10)
      // One inserted row, one change: a statement that inserts nothing appends nothing.
      _ = try await ledger.read("""
        INSERT INTO events (server_id, seq, kind, received_utc, summary) VALUES (7, 1, 'deal_add', 'now', 'again')
        ON CONFLICT DO NOTHING
        """)
      #expect(try await ledger.lastChangeId() == changes.last?.integer("id"))
    }
  }

  @Test func aRowForAnUnknownServerIsRefusedAsByTheForeignKey() async throws {
    try await Self.withLedger { ledger in
      _ = try await ledger.commitAsync([Self.batch(1...2, 7)])
      await Self.expectRefused(ledger, """
        INSERT INTO events (server_id, seq, kind, received_utc, summary)
        VALUES (7, 3, 'deal_add', 'now', 'ok'), (99, 1, 'deal_add', 'now', 'no such server')
        """, state: "23503")
      await Self.expectRefused(ledger, """
        INSERT INTO accounts (server_id, login, balance, credit, updated_seq) VALUES (99, 1, 0, 0, 1)
        """, state: "23503")
      await Self.expectRefused(ledger, "UPDATE deals SET server_id = 99 WHERE server_id = 7", state: "23503")
      #expect(try await ledger.rowCount(.events) == 2)
      #expect(try await ledger.lastChangeId() == 2)
    }
  }

  @Test func aServerWithRowsCannotBeDeletedRenumberedOrTruncated() async throws {
    try await Self.withLedger { ledger in
      _ = try await ledger.commitAsync([Self.batch(1...2, 7)])
      _ = try await ledger.read("INSERT INTO servers (id) VALUES (8)")
      await Self.expectRefused(ledger, "DELETE FROM servers WHERE id = 7", state: "23503")
      await Self.expectRefused(ledger, "UPDATE servers SET id = 70 WHERE id = 7", state: "23503")
      await Self.expectRefused(ledger, "TRUNCATE servers CASCADE", state: "0A000")
      // A server nothing refers to goes as before; the last_seq update of every commit is not a key change.
      _ = try await ledger.read("DELETE FROM servers WHERE id = 8")
      _ = try await ledger.commitAsync([Self.batch(3...4, 7)])
      let servers = try await ledger.read("SELECT id, last_seq FROM servers ORDER BY id")
      #expect(servers.map { $0.integer("id") ?? -1 } == [7])
      #expect(servers.first?.integer("last_seq") == 4)
    }
  }
}

/// The PostgreSQL writer plans a batch as if every admitted event were new and writes
/// it in one statement whose upserts only apply when that holds (docs/ledger.md,
/// "PostgreSQL: one statement per batch"). An event already in `events` above the
/// durable sequence breaks the guess: the batch is planned again from the answer, and
/// the next batch, planned ahead on the guess, is planned again too. Both backends
/// must leave the same rows.
@Suite("PostgreSQL: a batch planned on a wrong guess is planned again, as SQLite applies it", .serialized)
struct PostgresSpeculativeBatchTests {
  @Test func anEventAlreadyStoredAboveTheDurablePointIsADuplicateOnBothBackends() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sqlite = try Ledger(path: folder + "/ledger.sqlite")
    let database = try await TestPostgres.createDatabase()
    let postgres = try await PostgresLedger.open(url: database.url)
    let batch = PostgresStatementTriggerTests.batch
    let stray = """
      INSERT INTO events (server_id, seq, kind, received_utc, summary) VALUES (7, 5, 'deal_add', 'earlier', 'stored before')
      """
    do {
      var counts: [(LedgerCommit, LedgerCommit)] = []
      counts.append((try sqlite.commit([batch(1...3, 7)], reportedGaps: []), try await postgres.commitAsync([batch(1...3, 7)])))
      try await sqlite.pool.write { try $0.execute(sql: stray) }
      _ = try await postgres.read(PostgresQuery(unsafeSQL: stray))
      // 5 is stored: 4...6 inserts 4 and 6 only; 7...8 was planned ahead on 6 as the durable point.
      let commit = [batch(4...6, 7), batch(7...8, 7), batch(1...2, 8), batch(3...4, 8)]
      counts.append((try sqlite.commit(commit, reportedGaps: []), try await postgres.commitAsync(commit)))
      let (left, right) = (try await LedgerBackendEquivalenceTests.dump(sqlite), try await LedgerBackendEquivalenceTests.dump(postgres))
      #expect(left.count == right.count)
      for (l, r) in zip(left, right) { #expect(l == r) }
      for (a, b) in counts { #expect(a == b, "commit counts") }
      #expect(counts[1].1.duplicateEvents == 1)
      #expect(counts[1].1.durableSequence[7] == 8)
      let deals = try await postgres.read("SELECT deal FROM deals WHERE server_id = 7 ORDER BY deal")
      #expect(deals.compactMap { $0.integer("deal") } == [10_001, 10_002, 10_003, 10_004, 10_006, 10_007, 10_008])
    } catch {
      await postgres.close()
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    await postgres.close()
    try await TestPostgres.dropDatabase(database)
  }
}
