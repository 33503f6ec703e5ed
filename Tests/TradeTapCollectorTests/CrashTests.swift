import Foundation
import GRDB
import Glibc
import Testing
import TradeTapCollector
import TradeTapLedger
import TradeTapWire

@Suite("tradetap collector process: crashes and shutdowns lose nothing, double nothing", .serialized)
struct CrashTests {
  static let secrets = "# test servers\n7 \(Harness.secret)\n"

  @Test func killDashNineMidStreamThenRestartLeavesExactlyNRows() async throws {
    let n: UInt64 = 20_000
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)

    let first = try CollectorProcess(folder: folder)
    let plugin = try await TestPlugin.connect(port: first.protocolPort)
    _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
    try await plugin.sendEvents(1...n / 2, serverId: Harness.serverId, batchSize: 250)
    let ackBeforeCrash = try await plugin.awaitAck(through: 1000).throughSequence
    try await plugin.sendEvents(n / 2 + 1...n * 3 / 4, serverId: Harness.serverId, batchSize: 250)
    first.signal(SIGKILL)
    #expect(first.wait() == SIGKILL)
    await plugin.close()

    let second = try CollectorProcess(folder: folder)
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

    let ledger = try Ledger(path: folder + "/ledger.sqlite")
    let (events, deals, distinct, low, high) = try ledger.read { db in
      let row = try Row.fetchOne(db, sql: """
        SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deals), (SELECT count(DISTINCT seq) FROM events),
               (SELECT min(seq) FROM events), (SELECT max(seq) FROM events)
        """)!
      return (row[0] as Int64, row[1] as Int64, row[2] as Int64, row[3] as Int64, row[4] as Int64)
    }
    #expect(events == Int64(n))
    #expect(deals == Int64(n))
    #expect(distinct == Int64(n))
    #expect(low == 1 && high == Int64(n))
    #expect(try ledger.writer.durableSequence(serverId: Harness.serverId) == n)
  }

  @Test func sigtermCommitsAcknowledgesAndClosesThenExitsCleanly() async throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)
    let collector = try CollectorProcess(folder: folder)
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
    let ledger = try Ledger(path: folder + "/ledger.sqlite")
    // Exactly what was acknowledged is in the ledger: nothing committed without its ack going out.
    #expect(try ledger.read { try Int64.fetchOne($0, sql: "SELECT count(*) FROM events") } == Int64(lastAck))
  }

  @Test func aPostgresDatabaseIsRefusedWithAClearError() throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try CollectorProcess.executable())
    process.arguments = [
      "collector", "--no-tls", "--database", "postgres://u:p@localhost:5432/db", "--secrets", folder + "/secrets",
      "--api-token-file", folder + "/token",
    ]
    let stderr = Pipe()
    process.standardError = stderr
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationStatus != 0)
    #expect(message.contains("not supported yet"))
  }
}
