import Foundation
import Glibc
import Testing
import TradeTapCollector
import TradeTapLedger
import TradeTapLedgerPostgres
import TradeTapWire

@Suite("tradetap collector process: crashes and shutdowns lose nothing, double nothing", .serialized)
struct CrashTests {
  static let secrets = "# test servers\n7 \(Harness.secret)\n"

  /// Where a process test keeps its ledger: a SQLite file in `folder`, or a fresh
  /// PostgreSQL database (dropped by ``drop()``).
  struct ProcessLedger {
    let backend: LedgerBackendKind
    let folder: String
    let database: TestPostgres.Database?

    static func make(_ backend: LedgerBackendKind, folder: String) async throws -> ProcessLedger {
      ProcessLedger(
        backend: backend, folder: folder,
        database: backend == .postgres ? try await TestPostgres.createDatabase() : nil)
    }

    var url: String { database?.url ?? "sqlite:\(folder)/ledger.sqlite" }

    /// Opens the ledger the process left, runs `body`, closes it.
    func inspect<T>(_ body: (any LedgerStore) async throws -> T) async throws -> T {
      let ledger: any LedgerStore =
        if let database { try await PostgresLedger.open(url: database.url) } else { try Ledger(path: folder + "/ledger.sqlite") }
      do {
        let result = try await body(ledger)
        await ledger.close()
        return result
      } catch {
        await ledger.close()
        throw error
      }
    }

    /// Runs `body` with a fresh ledger of `backend`, and drops it after, pass or fail.
    static func with(
      _ backend: LedgerBackendKind, folder: String, _ body: (ProcessLedger) async throws -> Void
    ) async throws {
      let ledger = try await make(backend, folder: folder)
      do {
        try await body(ledger)
      } catch {
        try? await ledger.drop()
        throw error
      }
      try await ledger.drop()
    }

    func drop() async throws {
      if let database { try await TestPostgres.dropDatabase(database) }
      try? FileManager.default.removeItem(atPath: folder)
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func killDashNineMidStreamThenRestartLeavesExactlyNRows(backend: LedgerBackendKind) async throws {
    let n: UInt64 = 20_000
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)
    try await ProcessLedger.with(backend, folder: folder) { ledger in
    let first = try CollectorProcess(folder: folder, database: ledger.url)
    let plugin = try await TestPlugin.connect(port: first.protocolPort)
    _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
    try await plugin.sendEvents(1...n / 2, serverId: Harness.serverId, batchSize: 250)
    let ackBeforeCrash = try await plugin.awaitAck(through: 1000).throughSequence
    try await plugin.sendEvents(n / 2 + 1...n * 3 / 4, serverId: Harness.serverId, batchSize: 250)
    first.signal(SIGKILL)
    #expect(first.wait() == SIGKILL)
    await plugin.close()

    let second = try CollectorProcess(folder: folder, database: ledger.url)
    let resumed = try await TestPlugin.connect(port: second.protocolPort)
    let welcome = try await resumed.handshake(serverId: Harness.serverId, secret: Harness.secret)
    // Everything acknowledged before the crash was durable.
    #expect(welcome.lastDurableSequence >= ackBeforeCrash)
    // Resend from one batch before the resume point too: duplicates must not count.
    let from = welcome.lastDurableSequence > 100 ? welcome.lastDurableSequence - 99 : 1
    try await resumed.sendEvents(from...n, serverId: Harness.serverId, batchSize: 250)
    #expect(try await resumed.awaitAck(through: n).throughSequence == n)
    await resumed.close()
    second.signal(SIGTERM)
    #expect(second.wait() == 0)

    let row = try await ledger.inspect { store in
      try await TestLedgerReader.records(store, """
        SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM deals) AS deals,
               (SELECT count(DISTINCT seq) FROM events) AS distinct_seqs, (SELECT min(seq) FROM events) AS low,
               (SELECT max(seq) FROM events) AS high, (SELECT last_seq FROM servers WHERE id = 7) AS durable,
               (SELECT count(*) FROM changes) AS changes
        """)[0]
    }
    #expect(row.integer("events") == Int64(n))
    #expect(row.integer("deals") == Int64(n))
    #expect(row.integer("distinct_seqs") == Int64(n))
    #expect(row.integer("low") == 1 && row.integer("high") == Int64(n))
    #expect(row.integer("durable") == Int64(n))
    #expect(row.integer("changes") == Int64(n), "one change per event, none for the resent duplicates")
    }
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func sigtermCommitsAcknowledgesAndClosesThenExitsCleanly(backend: LedgerBackendKind) async throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)
    try await ProcessLedger.with(backend, folder: folder) { ledger in
    let collector = try CollectorProcess(folder: folder, database: ledger.url)
    let plugin = try await TestPlugin.connect(port: collector.protocolPort)
    _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
    try await plugin.sendEvents(1...5000, serverId: Harness.serverId, batchSize: 100)
    _ = try await plugin.awaitAck(through: 100)
    collector.signal(SIGTERM)
    var lastAck: UInt64 = 100
    while let message = try await plugin.receive() {
      if case .ack(let ack) = message { lastAck = max(lastAck, ack.throughSequence) }
    }
    #expect(collector.wait() == 0)
    // Exactly what was acknowledged is in the ledger: nothing committed without its ack going out.
    #expect(try await ledger.inspect { try await $0.rowCount(.events) } == Int(lastAck))
    }
  }

  @Test func anUnreachablePostgresDatabaseIsRefusedWithAClearErrorThatHidesThePassword() throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try CollectorProcess.executable())
    // Port 1 on loopback: nothing listens there.
    process.arguments = [
      "collector", "--no-tls", "--database", "postgres://u:hunter2@127.0.0.1:1/db", "--secrets", folder + "/secrets",
      "--api-token-file", folder + "/token",
    ]
    let stderr = Pipe()
    process.standardError = stderr
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationStatus != 0)
    #expect(message.contains("cannot open the ledger postgres://u@127.0.0.1:1/db"), "\(message)")
    #expect(message.contains("Connection refused"), "\(message)")
    #expect(!message.contains("hunter2"))
  }
}
