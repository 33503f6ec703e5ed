import Foundation
import Glibc
import Testing
import TradeTapJournal

/// Issue 16: each `Sender.Idle` strategy delivers every event exactly once through the
/// real `libTradeTapPlugin.so` in the plain-C host (Tools/c-host) to a real collector.
/// No time is asserted: the host is restarted on the same journal (resuming from the
/// collector's durable point) until everything is released, at most a few times.
@Suite(.serialized) struct SenderIdleEndToEndSpecification {
  @Test(arguments: ["busy-spin", "yield", "backoff", "park"])
  func everyEventArrivesExactlyOnce(idle: String) throws {
    let plugin = PluginEndToEndSpecification.buildDirectory + "/libTradeTapPlugin.so"
    #expect(FileManager.default.fileExists(atPath: plugin), "missing \(plugin)")
    let folder = try makeTemporaryFolder()
    let host = try PluginEndToEndSpecification.compileHost(into: folder)
    let secret = folder + "/secret"
    try "sender-idle-end-to-end-secret\n".write(toFile: secret, atomically: true, encoding: .utf8)
    chmod(secret, 0o600)
    let collector = try CollectorPeer(folder: folder, secrets: "7 sender-idle-end-to-end-secret\n", tls: nil)
    let common = [
      plugin, "--server-id", "7", "--kinds", "deals", "--log", folder + "/host.log",
      "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=\(secret)", "--param", "TLS=off",
      "--param", "Journal.Path=\(folder)/journal", "--param", "Journal.SizeMB=16", "--param", "Heartbeat.Seconds=1",
      "--param", "Sender.Idle=\(idle)",
    ]
    // Two host threads, 2,000 deals each, 100 µs apart, so the sender also idles
    // between deals (and parks with park); then, if the journal is not released
    // through the last deal yet, runs of one deal each on the same journal (the
    // sender resumes from the collector's durable point) until it is.
    var fired = 4_000
    let first = try PluginEndToEndSpecification.runHost(
      host, common + ["--threads", "2", "--events", "2000", "--sleep-us", "100", "--linger-ms", "1000"])
    #expect(first.contains("startup=0") && first.contains("cleanup=done"), "\(first)")
    var released: UInt64 = 0
    for attempt in 0...5 {
      let journal = try Journal.open(directory: folder + "/journal", sizeMB: 16)
      released = journal.releasedSequence
      #expect(journal.statistics.nextSequence == UInt64(fired))
      journal.close()
      if released >= UInt64(fired) || attempt == 5 { break }
      _ = try PluginEndToEndSpecification.runHost(host, common + ["--threads", "1", "--events", "1", "--linger-ms", "2000"])
      fired += 1
    }
    #expect(released == UInt64(fired), "every record acknowledged and released")
    #expect(try collector.count("SELECT count(*) FROM events WHERE server_id = 7") == fired)
    #expect(try collector.count("SELECT count(DISTINCT seq) FROM events WHERE server_id = 7 AND seq BETWEEN 1 AND \(fired)") == fired)
    let log = (try? String(contentsOfFile: folder + "/host.log", encoding: .utf8)) ?? ""
    #expect(log.contains("idle \(idle)"), "\(log.suffix(2000))")
  }
}
