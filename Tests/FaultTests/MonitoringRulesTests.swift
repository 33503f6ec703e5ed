import Foundation
import Glibc
import Testing

/// Issue 15's monitoring files: `docs/prometheus/alerts.yml` passes `promtool check
/// rules` (Debian's `prometheus` package), and every series it and
/// `docs/grafana/tradetap.json` name is exported by a live collector fed by
/// `tradetap sim` through the real plugin, with a webhook output configured. A
/// missing promtool is a failure, never a skip.
@Suite("Monitoring: alert rules and the Grafana dashboard", .serialized)
struct MonitoringRulesTests {
  static let rules = Artifacts.repository + "/docs/prometheus/alerts.yml"
  static let dashboard = Artifacts.repository + "/docs/grafana/tradetap.json"

  /// Runs a program; its exit status and output (stdout and stderr together).
  static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
  }

  /// Every `tradetap_…` name in a file (PromQL of the rules and of the dashboard's panels).
  static func seriesNamed(in path: String) throws -> Set<String> {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let regex = try NSRegularExpression(pattern: "tradetap_[a-z0-9_]+")
    let range = NSRange(text.startIndex..., in: text)
    return Set(regex.matches(in: text, range: range).compactMap { Range($0.range, in: text).map { String(text[$0]) } })
  }

  @Test func theAlertRulesPassPromtoolCheckRules() throws {
    let promtool = "/usr/bin/promtool"
    try #require(FileManager.default.isExecutableFile(atPath: promtool), "\(promtool) is missing: apt-get install prometheus")
    let (status, output) = try Self.run(promtool, ["check", "rules", Self.rules])
    #expect(status == 0, "\(output)")
    #expect(output.contains("SUCCESS: 8 rules found"), "\(output)")
  }

  /// Every panel has a query, and every query is valid PromQL: each becomes a
  /// recording rule (Grafana's `$instance` and `$server_id` as `.*`) that
  /// `promtool check rules` parses.
  @Test func theDashboardIsGrafanaJSONWhosePanelQueriesAreValidPromQL() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: Self.dashboard))
    let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(dashboard["uid"] as? String == "tradetap-collector")
    let panels = try #require(dashboard["panels"] as? [[String: Any]])
    #expect(panels.count >= 10)
    var rules = "groups:\n  - name: dashboard\n    rules:\n"
    for panel in panels {
      let targets = panel["targets"] as? [[String: Any]] ?? []
      #expect(!targets.isEmpty && targets.allSatisfy { ($0["expr"] as? String)?.contains("tradetap_") == true }, "\(panel["title"] ?? "")")
      for (index, target) in targets.enumerated() {
        let expr = (target["expr"] as? String ?? "").replacingOccurrences(of: "$instance", with: ".*")
          .replacingOccurrences(of: "$server_id", with: ".*")
        let quoted = "'" + expr.replacingOccurrences(of: "'", with: "''") + "'"
        rules += "      - record: tradetap:dashboard_panel\(panel["id"] ?? 0)_\(index)\n        expr: \(quoted)\n"
      }
    }
    let file = try Artifacts.temporaryFolder() + "/dashboard-rules.yml"
    try rules.write(toFile: file, atomically: true, encoding: .utf8)
    let promtool = "/usr/bin/promtool"
    try #require(FileManager.default.isExecutableFile(atPath: promtool), "\(promtool) is missing: apt-get install prometheus")
    let (status, output) = try Self.run(promtool, ["check", "rules", file])
    #expect(status == 0, "\(output)\n\(rules)")
  }

  @Test func everySeriesTheDashboardAndTheRulesNameExistsOnALiveCollector() throws {
    let named = try Self.seriesNamed(in: Self.rules).union(try Self.seriesNamed(in: Self.dashboard))
    #expect(named.count >= 15, "\(named.sorted())")
    // A webhook output to a port nothing listens on: its series exist, its lag grows.
    let hookSecret = try Artifacts.temporaryFolder() + "/hook-secret"
    try "hook-secret-for-monitoring-tests\n".write(toFile: hookSecret, atomically: true, encoding: .utf8)
    chmod(hookSecret, 0o600)
    let collector = try CollectorUnderTest(
      heartbeat: "1s",
      extraArguments: [
        "--webhook", "http://127.0.0.1:\(try CollectorProcessPort.closed())/hook", "--webhook-secret-file", hookSecret,
      ])
    defer { collector.stop() }
    let sim = try ConsoleBrowserTests.sim(collector, server: 1, ["--accounts", "10", "--rate", "200", "--duration", "20s"])
    defer {
      kill(sim.processIdentifier, SIGKILL)
      sim.waitUntilExit()
    }
    let token = try String(contentsOfFile: collector.folder + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    var exported: Set<String> = []
    var text = ""
    let deadline = Date().addingTimeInterval(15)
    repeat {
      usleep(500_000)
      let header = collector.folder + "/auth-header"
      try "Authorization: Bearer \(token)\n".write(toFile: header, atomically: true, encoding: .utf8)
      (_, text) = try Self.run("/usr/bin/curl", ["-s", "-H", "@" + header, "http://127.0.0.1:\(collector.httpPort)/metrics"])
      exported = Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap {
        $0.split(separator: "{", maxSplits: 1).first?.split(separator: " ", maxSplits: 1).first.map(String.init)
      })
    } while !named.isSubset(of: exported) && Date() < deadline
    #expect(named.subtracting(exported).isEmpty, "not on /metrics: \(named.subtracting(exported).sorted())\n\(text)")
  }
}

/// A loopback port with nothing listening (bound, then closed).
enum CollectorProcessPort {
  static func closed() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw Artifacts.Missing(path: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}
