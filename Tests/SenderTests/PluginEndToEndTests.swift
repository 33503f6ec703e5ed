import Foundation
import Glibc
import Testing
import TradeTapJournal

/// The real `libTradeTapPlugin.so` in the plain-C host (Tools/c-host, compiled with
/// `cc` against the header alone) → a real `tradetap collector` process.
@Suite(.serialized) struct PluginEndToEndSpecification {
  static var buildDirectory: String {
    ProcessInfo.processInfo.environment["TRADETAP_BUILD_DIR"]
      ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
  }
  static var repository: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
  }

  /// Compiles Tools/c-host/host.c into `folder`.
  static func compileHost(into folder: String) throws -> String {
    let output = folder + "/c-host"
    try run("/usr/bin/env", [
      "cc", "-std=c11", "-O2", "-pthread", "-I", repository + "/CInterop/TradeServerAPI/include",
      repository + "/Tools/c-host/host.c", "-o", output, "-ldl", "-lm",
    ])
    return output
  }

  /// Runs the host to completion; returns its stdout.
  static func runHost(_ host: String, _ arguments: [String]) throws -> String {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: host)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  @Test func eventsFiredInTheCHostArriveExactlyOnceAcknowledgedAndReleased() throws {
    let plugin = Self.buildDirectory + "/libTradeTapPlugin.so"
    #expect(FileManager.default.fileExists(atPath: plugin), "missing \(plugin)")
    let folder = try makeTemporaryFolder()
    let host = try Self.compileHost(into: folder)
    let secret = folder + "/secret"
    try "end-to-end-secret\n".write(toFile: secret, atomically: true, encoding: .utf8)
    chmod(secret, 0o600)
    let collector = try CollectorPeer(folder: folder, secrets: "7 end-to-end-secret\n", tls: nil)
    let common = [
      plugin, "--server-id", "7", "--kinds", "deals", "--log", folder + "/host.log",
      "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=\(secret)", "--param", "TLS=off",
      "--param", "Journal.Path=\(folder)/journal", "--param", "Journal.SizeMB=16", "--param", "Heartbeat.Seconds=1",
    ]
    // Run 1: two host threads fire 5,000 deals each, then cleanup (stops the sender
    // wherever it is). Run 2, same journal: one more deal, then 5 s idle before
    // cleanup, in which the sender resumes from the collector's durable point.
    let first = try Self.runHost(host, common + ["--threads", "2", "--events", "5000"])
    let second = try Self.runHost(host, common + ["--threads", "1", "--events", "1", "--sleep-us", "5000000"])
    #expect(first.contains("startup=0") && first.contains("cleanup=done"), "\(first)")
    #expect(second.contains("startup=0") && second.contains("cleanup=done"), "\(second)")
    let fired = 10_001

    #expect(try collector.count("SELECT count(*) FROM events WHERE server_id = 7") == fired)
    #expect(try collector.count("SELECT count(DISTINCT seq) FROM events WHERE server_id = 7 AND seq BETWEEN 1 AND \(fired)") == fired)
    // Run 2's deal repeats run 1's first ticket: the ledger keeps one row per deal.
    #expect(try collector.count("SELECT count(*) FROM deals WHERE server_id = 7") == 10_000)
    let journal = try Journal.open(directory: folder + "/journal", sizeMB: 16)
    defer { journal.close() }
    #expect(journal.statistics.nextSequence == UInt64(fired))
    #expect(journal.releasedSequence == UInt64(fired), "every acknowledged record released, nothing else")
    let log = (try? String(contentsOfFile: folder + "/host.log", encoding: .utf8)) ?? ""
    #expect(log.contains("connected to collector"), "\(log.suffix(2000))")
  }
}
