import Foundation
import Glibc
import Testing

/// Issue 4's acceptance runs: a trading day of at least 100,000 events per dialect
/// through the real plugin `.so` (loaded by `tradetap sim`) into a real
/// `tradetap collector`, after which `tradetap verify` finds the ledger equal to
/// the platform; and the same seed gives the same platform state twice.
@Suite("Dialect runs: 100k-event days for MT5 netting, MT5 hedging and MT4 verify clean", .serialized)
struct DialectRunTests {
  static let events = 100_000

  /// Starts a collector, runs the day, verifies; returns the verify line and the state file.
  static func day(platform: String, margin: String, seed: Int) throws -> (verify: String, state: String) {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "3 dialect-run-secret\n", token: Harness.token)
    try "dialect-run-secret\n".write(toFile: folder + "/plugin-secret", atomically: true, encoding: .utf8)
    chmod(folder + "/plugin-secret", 0o600)
    let collector = try CollectorProcess(folder: folder)
    defer { collector.signal(SIGTERM); _ = collector.wait() }
    let (simStatus, simOutput) = try PipelineTests.tradetap([
      "sim", "--plugin", try PipelineTests.artifact("libTradeTapPlugin.so"),
      "--param", "Collector=127.0.0.1:\(collector.protocolPort)", "--param", "TLS=off",
      "--param", "SecretFile=\(folder)/plugin-secret", "--param", "Journal.Path=\(folder)/journal",
      "--platform", platform, "--margin", margin, "--server-id", "3", "--accounts", "300",
      "--events", String(events), "--rate", "0", "--threads", "2", "--seed", String(seed),
      "--linger", "3s", "--state-out", folder + "/state.json",
    ])
    #expect(simStatus == 0, "\(simOutput)")
    #expect(simOutput.contains("sim: done: "), "\(simOutput)")
    // The ledger may still be committing the tail: verify until clean or 20 s pass.
    var verify = ""
    for _ in 0..<100 {
      let (status, output) = try PipelineTests.tradetap([
        "verify", "--state", folder + "/state.json", "--database", "sqlite:\(folder)/ledger.sqlite", "--server-id", "3",
      ])
      verify = output
      if status == 0 { break }
      usleep(200_000)
    }
    return (verify, try String(contentsOfFile: folder + "/state.json", encoding: .utf8))
  }

  static func firedAtLeastTheDay(_ verify: String) -> Bool {
    // "verify: A accounts, D deals, P positions, N divergences"
    guard let line = verify.split(separator: "\n").last(where: { $0.hasPrefix("verify: ") }) else { return false }
    let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    return numbers.count == 4 && numbers[0] == 300 && numbers[1] > 0 && numbers[3] == 0
  }

  @Test func anMT5NettingDayOf100kEventsLeavesNoDivergence() throws {
    let (verify, _) = try Self.day(platform: "mt5", margin: "netting", seed: 21)
    #expect(Self.firedAtLeastTheDay(verify), "\(verify)")
  }

  @Test func anMT5HedgingDayOf100kEventsLeavesNoDivergence() throws {
    let (verify, _) = try Self.day(platform: "mt5", margin: "hedging", seed: 22)
    #expect(Self.firedAtLeastTheDay(verify), "\(verify)")
  }

  @Test func anMT4DayOf100kEventsLeavesNoDivergence() throws {
    let (verify, _) = try Self.day(platform: "mt4", margin: "hedging", seed: 23)
    #expect(Self.firedAtLeastTheDay(verify), "\(verify)")
  }

  @Test func theSameSeedGivesTheSamePlatformStateTwice() throws {
    // Without a plugin: the platform's state depends on the seed alone, not on delivery.
    func state(_ seed: Int) throws -> String {
      let folder = try Harness.folder()
      let (status, output) = try PipelineTests.tradetap([
        "sim", "--platform", "mt5", "--margin", "mixed", "--accounts", "50", "--events", "20000", "--rate", "0",
        "--threads", "2", "--seed", String(seed), "--state-out", folder + "/state.json",
      ])
      #expect(status == 0, "\(output)")
      return try String(contentsOfFile: folder + "/state.json", encoding: .utf8)
    }
    let first = try state(5), second = try state(5), other = try state(6)
    #expect(Self.withoutWallClock(first) == Self.withoutWallClock(second))
    #expect(Self.withoutWallClock(first) != Self.withoutWallClock(other))
  }

  /// The state file's times come from the broker clock of the run; everything else is the seed's.
  static func withoutWallClock(_ state: String) -> String {
    state.replacingOccurrences(of: #""[a-z_]*(time|msc)[a-z_]*"\s*:\s*-?\d+"#, with: "\"t\":0", options: .regularExpression)
  }
}
