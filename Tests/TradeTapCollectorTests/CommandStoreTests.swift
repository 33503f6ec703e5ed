import Foundation
import GRDB
import PostgresNIO
import Testing
import TradeTapEvents
import TradeTapLedger
import TradeTapLedgerPostgres

/// The ledger's CRM commands (`LedgerStore`'s Commands section) on both backends:
/// admission by idempotency key, the first final outcome wins, the change row and
/// the audit row. PostgreSQL runs in the cluster of `TRADETAP_TEST_POSTGRES_URL`.
@Suite("Command store", .serialized)
struct CommandStoreTests {
  /// A fresh store with servers 7 (MT5) and 8 (MT4); closed and removed after.
  static func withStore(_ backend: LedgerBackendKind, _ body: (any LedgerStore) async throws -> Void) async throws {
    let store: any LedgerStore
    var folder: String? = nil
    var database: TestPostgres.Database? = nil
    let insertServers = "INSERT INTO servers (id, platform) VALUES (7, 5), (8, 4)"
    switch backend {
    case .sqlite:
      folder = try Harness.folder()
      let ledger = try Ledger(path: folder! + "/ledger.sqlite")
      try await ledger.pool.write { try $0.execute(sql: insertServers) }
      store = ledger
    case .postgres:
      database = try await TestPostgres.createDatabase()
      let ledger = try await PostgresLedger.open(url: database!.url)
      _ = try await ledger.read(PostgresQuery(unsafeSQL: insertServers))
      store = ledger
    }
    let result: Result<Void, any Error>
    do { result = .success(try await body(store)) } catch { result = .failure(error) }
    await store.close()
    if let folder { try? FileManager.default.removeItem(atPath: folder) }
    if let database { try await TestPostgres.dropDatabase(database) }
    try result.get()
  }

  static func deposit(_ key: String, amount: String = "100.50", login: UInt64 = 5001, hash: String? = nil)
    -> CommandSubmission
  {
    CommandSubmission(
      serverId: 7, request: .moveMoney(MoneyMovement(login: login, type: .deposit, amount: ExactDecimal(amount)!, comment: "c \"q\" ü")),
      idempotencyKey: key, bodyHash: hash ?? "hash-\(amount)", tokenId: "0123456789abcdef")
  }

  static func accepted(_ admission: CommandAdmission) -> LedgerCommand? {
    if case .accepted(let command) = admission { command } else { nil }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func aKeyAdmitsOneCommandAndAnotherBodyIsAConflict(backend: LedgerBackendKind) async throws {
    try await Self.withStore(backend) { store in
      let first = try #require(Self.accepted(try await store.submitCommand(Self.deposit("k-1"))))
      #expect(first.status == .pending && first.serverId == 7 && first.login == 5001)
      #expect(first.request == .moveMoney(MoneyMovement(login: 5001, type: .deposit, amount: ExactDecimal("100.50")!, comment: "c \"q\" ü")))
      #expect(try await store.submitCommand(Self.deposit("k-1")) == .repeated(first))
      #expect(try await store.submitCommand(Self.deposit("k-1", amount: "7.00")) == .conflict(first))
      #expect(try await store.rowCount(.commands) == 1)
      #expect(try await store.rowCount(.commandAudit) == 1)
      let amount = try await TestLedgerReader.records(store, "SELECT amount, token_id, request FROM commands").first
      #expect(amount?.text("amount") == "100.50")  // exact, the scale kept (NUMERIC on PostgreSQL)
      #expect(amount?.text("token_id") == "0123456789abcdef")
      #expect(try await store.command(id: first.id) == first)
      #expect(try await store.command(id: first.id + 1) == nil)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func concurrentSubmissionsOfOneKeyMakeOneCommand(backend: LedgerBackendKind) async throws {
    try await Self.withStore(backend) { store in
      let admissions = try await withThrowingTaskGroup(of: CommandAdmission.self) { group in
        for _ in 0..<16 { group.addTask { try await store.submitCommand(Self.deposit("race")) } }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      let accepted = admissions.compactMap(Self.accepted)
      #expect(accepted.count == 1)
      #expect(admissions.allSatisfy { if case .conflict = $0 { false } else { true } })
      #expect(try await store.rowCount(.commands) == 1)
      #expect(try await store.rowCount(.commandAudit) == 1)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func theFirstFinalOutcomeWinsAndWritesOneChange(backend: LedgerBackendKind) async throws {
    try await Self.withStore(backend) { store in
      let a = try #require(Self.accepted(try await store.submitCommand(Self.deposit("a"))))
      let b = try #require(Self.accepted(try await store.submitCommand(Self.deposit("b"))))
      let opening = CommandSubmission(
        serverId: 8, request: .openAccount(AccountOpening(group: "real", name: "N", currency: "USD", leverage: 100)),
        idempotencyKey: "c", bodyHash: "h", tokenId: "t")
      let c = try #require(Self.accepted(try await store.submitCommand(opening)))
      #expect(c.login == nil)

      #expect(try await store.unfinishedCommands(serverId: 7, limit: 10).map(\.id) == [a.id, b.id])
      #expect(try await store.unfinishedCommands(serverId: 7, limit: 1).map(\.id) == [a.id])
      try await store.markCommandsSent(ids: [a.id, b.id])
      #expect(try await store.command(id: a.id)?.status == .sent)

      let changesBefore = try await store.rowCount(.changes)
      // Unknown: stays unfinished, no change.
      let unknown = try await store.finishCommand(id: a.id, serverId: 7, outcome: .unknown(reason: "search failed"))
      #expect(unknown?.status == .unknown && unknown?.reason == "search failed")
      #expect(try await store.rowCount(.changes) == changesBefore)
      // Not a command of that server: nil, nothing written.
      #expect(try await store.finishCommand(id: a.id, serverId: 8, outcome: .done(deal: 1, login: nil)) == nil)

      let done = try await store.finishCommand(id: a.id, serverId: 7, outcome: .done(deal: 90_001, login: nil))
      #expect(done?.status == .done && done?.deal == 90_001 && done?.login == 5001)
      // A later outcome is ignored; so is unknown after final.
      let again = try await store.finishCommand(id: a.id, serverId: 7, outcome: .rejected(reason: "no_money", hostResult: 7))
      #expect(again == done)
      #expect(try await store.finishCommand(id: a.id, serverId: 7, outcome: .unknown(reason: "x")) == done)

      let rejected = try await store.finishCommand(id: b.id, serverId: 7, outcome: .rejected(reason: "no_money", hostResult: 12))
      #expect(rejected?.status == .rejected && rejected?.reason == "no_money" && rejected?.hostResult == 12 && rejected?.deal == nil)
      let opened = try await store.finishCommand(id: c.id, serverId: 8, outcome: .done(deal: nil, login: 70_123))
      #expect(opened?.status == .done && opened?.login == 70_123 && opened?.deal == nil)

      #expect(try await store.unfinishedCommands(serverId: 7, limit: 10).isEmpty)
      #expect(try await store.rowCount(.changes) == changesBefore + 3)
      let changes = try await store.changes(afterId: 0, limit: 10)
      #expect(changes.map { $0.text("kind") } == ["command", "command", "command"])
      #expect(changes.first?.text("summary") == "command \(a.id) login 5001 done deal 90001")
      #expect(changes.dropFirst().first?.text("summary") == "command \(b.id) login 5001 rejected reason no_money")
      #expect(changes.last?.text("summary") == "command \(c.id) login 70123 done")
      #expect(changes.first?.integer("server_id") == 7 && changes.first?.integer("seq") == 0)
      #expect(changes.first?.text("received_utc") == done?.updatedUtc)
      #expect(try await store.lastChangeId() == changes.last?.integer("id"))

      let audit = try await TestLedgerReader.records(store, "SELECT command_id, result, finished_utc FROM command_audit ORDER BY command_id")
      #expect(audit.map { $0.text("result") } == ["done deal 90001", "rejected no_money", "done login 70123"])
      #expect(audit.allSatisfy { $0.text("finished_utc") != nil })
    }
  }

  /// The sweep's check of the platform's TT# marks against the commands
  /// (docs/commands.md), identical on both backends: reported, never corrected.
  @Test(arguments: LedgerBackendKind.allCases)
  func theSweepReportsMarksWithoutTheirDoneCommandAndDoneCommandsWithoutTheirDeal(backend: LedgerBackendKind) async throws {
    try await Self.withStore(backend) { store in
      let booked = try #require(Self.accepted(try await store.submitCommand(Self.deposit("a"))))
      let lost = try #require(Self.accepted(try await store.submitCommand(Self.deposit("b"))))
      let refused = try #require(Self.accepted(try await store.submitCommand(Self.deposit("c"))))
      let running = try #require(Self.accepted(try await store.submitCommand(Self.deposit("d"))))
      _ = try await store.finishCommand(id: booked.id, serverId: 7, outcome: .done(deal: 12, login: 5001))
      _ = try await store.finishCommand(id: lost.id, serverId: 7, outcome: .done(deal: 13, login: 5001))
      _ = try await store.finishCommand(id: refused.id, serverId: 7, outcome: .rejected(reason: "no_money", hostResult: 9))
      func deal(_ ticket: UInt64, _ comment: String) -> Deal {
        guard case .deal(let d) = CRMEvents.deal(seq: ticket, deal: ticket, login: 5001, second: Int64(ticket),
                                                  action: .balance, profit: "100.50", comment: comment).body
        else { fatalError("a deal event") }
        return d
      }
      // Deal 13 is nowhere; 16 belongs to a command whose result is on its way.
      let platform = [deal(12, "TT#\(booked.id) c"), deal(14, "TT#\(refused.id) c"), deal(15, "TT#9999"),
                      deal(16, "TT#\(running.id) c")]
      let outcome = try #require(try store.reconcile(
        PlatformSnapshot(serverId: 7, deals: platform), caughtUpThrough: 0, startedUtc: nil, mode: .sweep(limit: nil)))
      #expect(Set(outcome.divergences.filter { $0.correction == .reported }.map(\.description)) == [
        "deal 14 command: platform TT#\(refused.id), ledger command \(refused.id) rejected",
        "deal 15 command: platform TT#9999, ledger NULL",
        "command \(lost.id) deal: platform NULL, ledger done deal 13",
      ], "\(backend)")
      #expect(try await store.command(id: refused.id)?.status == .rejected)
    }
  }
}
