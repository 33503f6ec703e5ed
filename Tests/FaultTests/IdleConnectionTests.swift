import Foundation
import Glibc
import Testing

/// A thousand connections that never speak, opened while the real plugin (in the
/// plain-C host) streams: the stream lands exactly, the idlers are dropped within
/// a bounded time, and the collector's memory stays bounded.
@Suite("Hostile input: a thousand idle connections", .serialized)
struct IdleConnectionTests {
  static func compileHost(into folder: String) throws -> String {
    let output = folder + "/c-host"
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
    cc.arguments = [
      "-std=c11", "-O2", "-pthread", "-I", Artifacts.repository + "/CInterop/TradeServerAPI/include",
      Artifacts.repository + "/Tools/c-host/host.c", "-o", output, "-ldl", "-lm",
    ]
    try cc.run()
    cc.waitUntilExit()
    guard cc.terminationStatus == 0 else { throw Artifacts.Missing(path: output) }
    return output
  }

  static func runHost(_ host: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: host)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test func aThousandIdleConnectionsNeitherDisturbARealPluginNorStayOpen() throws {
    let plugin = try Artifacts.path("libTradeTapPlugin.so")
    let collector = try CollectorUnderTest(heartbeat: "2s")
    defer { collector.stop() }
    let host = try Self.compileHost(into: collector.folder)
    let secretFile = collector.folder + "/plugin-secret"
    try (CollectorUnderTest.secrets[1]! + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
    chmod(secretFile, 0o600)
    let memoryBefore = collector.residentKilobytes

    let idlers = try (0..<1000).map { _ in try RawPeer(port: collector.port) }
    let opened = Date()
    usleep(300_000)
    let memoryWithIdlers = collector.residentKilobytes
    let common = [
      plugin, "--server-id", "1", "--kinds", "deals", "--log", collector.folder + "/host.log",
      "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=\(secretFile)", "--param", "TLS=off",
      "--param", "Journal.Path=\(collector.folder)/journal", "--param", "Heartbeat.Seconds=1",
    ]
    // 4,000 deals while the idlers hold their sockets; then one more start on the same
    // journal that lingers 2 s, so whatever the first left unacknowledged is delivered.
    let (first, firstOutput) = try Self.runHost(host, common + ["--threads", "2", "--events", "2000", "--sleep-us", "250"])
    #expect(first == 0, "\(firstOutput)")
    let (second, secondOutput) = try Self.runHost(host, common + ["--threads", "1", "--events", "1", "--sleep-us", "2000000"])
    #expect(second == 0, "\(secondOutput)")
    #expect(try collector.ledgerCount("SELECT count(*) FROM events") == 4001)
    #expect(try collector.ledgerCount("SELECT count(DISTINCT seq) FROM events") == 4001)
    #expect(try collector.ledgerCount("SELECT max(seq) FROM events") == 4001)

    // Three 2 s heartbeat intervals after they connected, every idler must be gone.
    let bound = 3 * 2.0 + 1.0
    let waited = Date().timeIntervalSince(opened)
    if waited < bound { usleep(useconds_t((bound - waited) * 1_000_000)) }
    var closed = 0
    for idler in idlers where idler.readUntilClosed(seconds: 0.01).closed { closed += 1 }
    let memoryAfter = collector.residentKilobytes
    print("[hostile] 1000 idle connections: \(closed) dropped by the collector; RSS \(memoryBefore) kB before, \(memoryWithIdlers) kB with them, \(memoryAfter) kB after the stream")
    #expect(closed == 1000)
    #expect(collector.isRunning)
  }
}
