import Foundation
import Glibc
import Testing

/// Issue 15, item 4: `tradetap sim` ends by saying what the plugin's journal still
/// holds (read from its header after the plugins' cleanup), so that a run without
/// `--linger` is not mistaken for lost events.
@Suite("sim: the journal's backlog at the end of a run", .serialized)
struct SimJournalReportTests {
  /// Runs `tradetap sim` with the real plugin towards `port`; its output.
  static func sim(port: Int, folder: String, _ extra: [String]) throws -> String {
    let secret = folder + "/secret.1"
    try (CollectorUnderTest.secrets[1]! + "\n").write(toFile: secret, atomically: true, encoding: .utf8)
    chmod(secret, 0o600)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try Artifacts.path("tradetap"))
    process.arguments = [
      "sim", "--plugin", try Artifacts.path("libTradeTapPlugin.so"), "--server-id", "1", "--platform", "mt5",
      "--param", "Collector=127.0.0.1:\(port)", "--param", "SecretFile=" + secret, "--param", "TLS=off",
      "--param", "Journal.Path=\(folder)/journal", "--param", "Heartbeat.Seconds=1", "--journal", folder + "/host.log",
      "--accounts", "10", "--events", "400",
    ] + extra
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(text)")
    return text
  }

  /// The number before `word` on the line that starts with `prefix`.
  static func number(in text: String, line prefix: String, before word: String) -> Int? {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
      let range = line.range(of: word)
    else { return nil }
    return Int(line[..<range.lowerBound].split(separator: " ").last ?? "")
  }

  @Test func withNoCollectorReachableEveryFiredEventIsReportedStillJournaledWithHowToDeliverIt() throws {
    let folder = try Artifacts.temporaryFolder()
    let text = try Self.sim(port: try CollectorProcessPort.closed(), folder: folder, [])
    let fired = Self.number(in: text, line: "sim: done:", before: " events fired")
    let journaled = Self.number(in: text, line: "sim: journal", before: " event(s) still journaled")
    #expect(fired != nil && fired! >= 400, "\(text)")
    #expect(journaled == fired, "\(text)")
    #expect(text.contains("delivered by the next start on the same Journal.Path, or run with --linger"), "\(text)")
  }

  @Test func withACollectorAndALingerTheRunReportsEveryEventAcknowledged() throws {
    let collector = try CollectorUnderTest(heartbeat: "1s")
    defer { collector.stop() }
    let text = try Self.sim(port: collector.port, folder: collector.folder, ["--linger", "4s"])
    #expect(text.contains("every event delivered and acknowledged"), "\(text)")
    #expect(!text.contains("still journaled"), "\(text)")
  }
}
