import Foundation
import Glibc
import Testing

/// Issue 3's host-crash proof: the real `.so` in the C host streams to a real
/// `tradetap collector`; the host is killed with `kill -9` mid-stream and started
/// again on the same journal; every event whose hook returned reaches the ledger,
/// each exactly once.
@Suite(.serialized) struct HostCrashDeliverySpecification {
  @Test func everyEventWhoseHookReturnedBeforeKillDashNineArrivesOnceAfterTheHostRestarts() throws {
    let plugin = PluginEndToEndSpecification.buildDirectory + "/libTradeTapPlugin.so"
    #expect(FileManager.default.fileExists(atPath: plugin), "missing \(plugin)")
    let folder = try makeTemporaryFolder()
    let host = try PluginEndToEndSpecification.compileHost(into: folder)
    let secret = folder + "/secret"
    try "crash-delivery-secret\n".write(toFile: secret, atomically: true, encoding: .utf8)
    chmod(secret, 0o600)
    let collector = try CollectorPeer(folder: folder, secrets: "9 crash-delivery-secret\n", tls: nil)
    let common = [
      plugin, "--server-id", "9", "--kinds", "deals", "--log", folder + "/host.log",
      "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=\(secret)", "--param", "TLS=off",
      "--param", "Journal.Path=\(folder)/journal", "--param", "Journal.SizeMB=64", "--param", "Heartbeat.Seconds=1",
    ]

    // Run 1: two threads fire deals until killed; each thread publishes how many of
    // its hooks have returned in a shared-memory counter the kill cannot roll back.
    let progress = folder + "/progress"
    let first = Process()
    first.executableURL = URL(fileURLWithPath: host)
    first.arguments = common + ["--threads", "2", "--events", "0", "--sleep-us", "50", "--progress", progress]
    first.standardOutput = FileHandle.nullDevice
    first.standardError = FileHandle.nullDevice
    try first.run()
    var returned: [UInt64] = [0, 0]
    for _ in 0..<3000 {
      usleep(10_000)
      returned = Self.readProgress(progress, threads: 2)
      if returned.reduce(0, +) >= 6000 { break }
    }
    kill(first.processIdentifier, SIGKILL)
    first.waitUntilExit()
    #expect(first.terminationReason == .uncaughtSignal)
    returned = Self.readProgress(progress, threads: 2)
    #expect(returned.reduce(0, +) >= 6000, "the host fired too little before the kill: \(returned)")

    // Run 2 on the same journal: one more deal, then idle while the sender delivers
    // what run 1 journaled but the collector had not acknowledged.
    let second = try PluginEndToEndSpecification.runHost(host, common + ["--threads", "1", "--events", "1", "--sleep-us", "4000000"])
    #expect(second.contains("startup=0") && second.contains("cleanup=done"), "\(second)")

    // Each sequence number the journal issued is in the ledger exactly once...
    let sequences = try collector.count("SELECT count(*) FROM events WHERE server_id = 9")
    #expect(sequences > 0)
    #expect(try collector.count("SELECT count(DISTINCT seq) FROM events WHERE server_id = 9") == sequences)
    #expect(try collector.count("SELECT max(seq) FROM events WHERE server_id = 9") == sequences)
    // ...and every deal whose hook returned before the kill is a ledger row.
    let tickets = Set(try Self.dealTickets(ledger: folder + "/ledger.sqlite", serverID: 9))
    for thread in 0..<2 {
      for index in 0..<returned[thread] {
        let ticket = (UInt64(thread + 1) << 32) | index
        guard tickets.contains(ticket) else {
          Issue.record("deal \(ticket) (thread \(thread), index \(index)) returned from its hook but is not in the ledger")
          return
        }
      }
    }
    collector.stop(signal: SIGTERM)
  }

  /// The C host's `--progress` file: T little-endian uint64 counters.
  static func readProgress(_ path: String, threads: Int) -> [UInt64] {
    guard let data = FileManager.default.contents(atPath: path), data.count >= threads * 8 else {
      return Array(repeating: 0, count: threads)
    }
    return (0..<threads).map { t in
      data[t * 8..<(t + 1) * 8].reversed().reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
    }
  }

  static func dealTickets(ledger: String, serverID: Int) throws -> [UInt64] {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = [ledger, "SELECT deal FROM deals WHERE server_id = \(serverID)"]
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { UInt64($0) }
  }
}
