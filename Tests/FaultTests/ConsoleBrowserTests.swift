import Foundation
import Glibc
import Testing

/// Issue 15's proof in a real browser: headless Chromium, driven by selenium
/// (`Tools/console/browser.py`, venv from `Tools/console/install.sh`), against a
/// real `tradetap collector` fed by two `tradetap sim` trade servers through the
/// real plugin. Server 1 trades at 200 events/s; server 2 replays
/// `Tools/console/hostile.jsonl` (markup in an account's name and in a deposit's
/// comment). The driver prints one PASS/FAIL line per check (docs/console.md lists
/// them) and saves a screenshot of each view under docs/console/ (or
/// `$TRADETAP_CONSOLE_SCREENSHOTS`). A missing browser,
/// driver or selenium is a failure, never a skip.
@Suite("Console: the operator's page in a real browser", .serialized)
struct ConsoleBrowserTests {
  static let liveServer: UInt32 = 1
  static let hostileServer: UInt32 = 2
  static let hostileLogin = 50001
  /// Server 3 trades through `tradetap gateway` 501 (an LP 20 ms away, 0…10 points of
  /// slippage), for the Gateways view.
  static let gatewayServer: UInt32 = 3
  static let gatewayId: UInt32 = 501
  static let secrets = CollectorUnderTest.secrets.merging(
    [gatewayServer: "secret-of-server-three", gatewayId: "secret-of-gateway-501"]) { old, _ in old }

  static var python: String {
    ProcessInfo.processInfo.environment["TRADETAP_CONSOLE_PYTHON"] ?? Artifacts.repository + "/.build/console-venv/bin/python"
  }

  /// One simulated trade server with the real plugin, talking plaintext to `collector`.
  static func sim(_ collector: CollectorUnderTest, server: UInt32, _ arguments: [String]) throws -> Process {
    try tradetap(collector, server: server, ["sim", "--server-id", "\(server)", "--platform", "mt5"] + arguments)
  }

  /// `tradetap <command>` with the real plugin for source `server` (a trade server or a
  /// gateway), talking plaintext to `collector`; stdout in `folder/out.<server>`.
  static func tradetap(_ collector: CollectorUnderTest, server: UInt32, _ arguments: [String]) throws -> Process {
    let secret = collector.folder + "/secret.\(server)"
    try (Self.secrets[server]! + "\n").write(toFile: secret, atomically: true, encoding: .utf8)
    chmod(secret, 0o600)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try Artifacts.path("tradetap"))
    process.arguments = arguments + [
      "--plugin", try Artifacts.path("libTradeTapPlugin.so"),
      "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=" + secret, "--param", "TLS=off",
      "--param", "Journal.Path=\(collector.folder)/journal.\(server)", "--param", "Heartbeat.Seconds=1",
      "--journal", "\(collector.folder)/host.\(server).log",
    ]
    FileManager.default.createFile(atPath: collector.folder + "/out.\(server)", contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: collector.folder + "/out.\(server)")
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
    return process
  }

  @Test func theConsoleShowsLiveServersAccountsAndChangesAsInertTextAndTurnsAKilledServerRed() throws {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
      try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: apt-get install chromium chromium-driver")
    }
    try #require(
      FileManager.default.isExecutableFile(atPath: Self.python), "\(Self.python) is missing: run Tools/console/install.sh")

    // The collector's own secrets file is replaced (the last --secrets wins) by one
    // that also holds server 3's and gateway 501's.
    let secrets = try Artifacts.temporaryFolder() + "/secrets"
    try Self.secrets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
      .write(toFile: secrets, atomically: true, encoding: .utf8)
    chmod(secrets, 0o600)
    let collector = try CollectorUnderTest(heartbeat: "1s", extraArguments: ["--secrets", secrets])
    defer { collector.stop() }
    let gateway = try Self.tradetap(
      collector, server: Self.gatewayId,
      ["gateway", "--listen", "127.0.0.1:0", "--gateway-id", "\(Self.gatewayId)", "--store", collector.folder + "/gateway-store",
       "--state-out", collector.folder + "/gateway-state.json", "--latency", "20ms", "--slippage-points", "10", "--seed", "11"])
    defer {
      if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL); gateway.waitUntilExit() }
    }
    // "gateway: 501 on 127.0.0.1:PORT, …"
    var gatewayPort: Int?
    let started = Date().addingTimeInterval(20)
    while gatewayPort == nil, Date() < started {
      let out = (try? String(contentsOfFile: collector.folder + "/out.\(Self.gatewayId)", encoding: .utf8)) ?? ""
      if let line = out.split(separator: "\n").first(where: { $0.hasPrefix("gateway: \(Self.gatewayId) on ") }) {
        gatewayPort = line.split(separator: " ")[3].split(separator: ",")[0].split(separator: ":").last.flatMap { Int($0) }
      }
      usleep(50_000)
    }
    let port = try #require(gatewayPort, "the gateway did not start")
    let traded = try Self.sim(
      collector, server: Self.gatewayServer,
      ["--margin", "mixed", "--accounts", "20", "--rate", "200", "--duration", "3s", "--seed", "5",
       "--gateway", "127.0.0.1:\(port)", "--gateway-store", collector.folder + "/sim.gateway", "--gateway-groups", "real\\hedging,real\\netting", "--linger", "60s"])
    defer {
      if traded.isRunning { kill(traded.processIdentifier, SIGKILL); traded.waitUntilExit() }
    }
    let hostile = try Self.sim(
      collector, server: Self.hostileServer,
      ["--scenario", Artifacts.repository + "/Tools/console/hostile.jsonl", "--linger", "90s"])
    let live = try Self.sim(collector, server: Self.liveServer, ["--accounts", "20", "--rate", "200", "--duration", "90s", "--seed", "15"])
    defer {
      for process in [hostile, live] where process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
      }
    }
    // Both servers in the ledger: the hostile account and the live server's first events.
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
      if try collector.ledgerCount("SELECT count(*) FROM accounts WHERE server_id = 2 AND login = \(Self.hostileLogin)") == 1,
        try collector.ledgerCount("SELECT count(*) FROM events WHERE server_id = 1") > 100,
        try collector.ledgerCount("SELECT count(*) FROM executions") > 0
      { break }
      usleep(100_000)
    }

    let driver = Process()
    driver.executableURL = URL(fileURLWithPath: Self.python)
    driver.arguments = [
      Artifacts.repository + "/Tools/console/browser.py", "--url", "http://127.0.0.1:\(collector.httpPort)",
      "--token-file", collector.folder + "/token", "--live-server", "\(Self.liveServer)",
      "--live-pid", "\(live.processIdentifier)", "--hostile-server", "\(Self.hostileServer)",
      "--hostile-login", "\(Self.hostileLogin)", "--heartbeat-seconds", "1", "--gateway", "\(Self.gatewayId)",
      "--screenshots", ProcessInfo.processInfo.environment["TRADETAP_CONSOLE_SCREENSHOTS"] ?? Artifacts.repository + "/docs/console", "--profile", collector.folder + "/chromium-profile",
    ]
    let output = Pipe()
    driver.standardOutput = output
    driver.standardError = output
    try driver.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    driver.waitUntilExit()
    for line in text.split(separator: "\n") where line.hasPrefix("FAIL") || line.hasPrefix("figures:") {
      print("[console] \(line)")
    }
    #expect(driver.terminationStatus == 0, "\(text)")
    for check in [
      "PASS without a token the API is not called", "PASS the live server's durable sequence rises between two reads",
      "PASS the account's balance on the page equals the API's",
      "PASS a comment with <script> from the trade server is shown as text",
      "PASS a name with <img onerror> from the trade server is shown as text",
      "PASS the killed server's row turns red within", "PASS security headers on GET /",
      "PASS the browser console is empty", "PASS the latency chart has a series for the live server",
      "PASS GET /v1/status has the live server's own hook → durable p50/p99",
      "PASS the gateways view shows gateway 501 with the API's execution quality",
    ] {
      #expect(text.contains(check), "\(check) missing:\n\(text)")
    }
    #expect(!text.contains("FAIL"), "\(text)")
  }
}
