import Foundation
import Testing
import TradeTapSimulator

func temporaryFile(_ name: String) -> String {
  FileManager.default.temporaryDirectory.appendingPathComponent("tradetap-sim-\(getpid())-\(name)").path
}

func writeScenario(_ name: String, _ lines: [String]) throws -> String {
  let path = temporaryFile(name)
  try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
  return path
}

/// The hook name of each recorded line.
func recordedHooks(_ path: String) throws -> [String] {
  try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { String($0.split(separator: " ")[0]) }
}

@Suite("Plugin host over the C ABI", .serialized)
struct PluginHostTests {
  @Test func aPluginLoadedWithDlopenHearsMT5HooksInThePlatformsOrder() throws {
    let library = try CPlugins.build("recorder", source: CPlugins.recorder)
    let record = temporaryFile("mt5-record.txt")
    var configuration = SimulationConfiguration()
    configuration.plugins = [library]
    configuration.parameters = ["Record": record]
    configuration.serverID = 9
    configuration.scenario = try writeScenario("mt5.jsonl", [
      #"{"op":"create_account","login":7001,"margin":"hedging"}"#,
      #"{"op":"balance","login":7001,"action":"balance","amount":"1000.00","comment":"deposit"}"#,
      #"{"op":"market","login":7001,"symbol":"EURUSD","side":"buy","volume":"0.30","ref":"p","fills":[{"volume":"0.10","price":"1.10000"},{"volume":"0.20","price":"1.10002"}]}"#,
      #"{"op":"close","position":"p","volume":"0.30","price":"1.10102"}"#,
    ])
    let journal = try HostJournal(path: temporaryFile("mt5-journal.log"), keepsLines: true)
    let server = SimulatedTradeServer(configuration: configuration, journal: journal)
    #expect(server.loadPlugins() == 1)
    let summary = try server.run()
    server.unloadPlugins()
    #expect(summary.eventsFired == 19)
    let hooks = try recordedHooks(record)
    #expect(hooks == [
      "startup",
      "user_add", "deal_add", "user_update",
      "order_add", "order_update", "deal_add", "position_add", "user_update",
      "order_update", "deal_add", "position_update", "user_update", "order_delete",
      "order_add", "order_update", "deal_add", "position_delete", "user_update", "order_delete",
      "cleanup",
    ])
    let text = try String(contentsOfFile: record, encoding: .utf8)
    #expect(text.contains("startup server=9 platform=5 offset=120"))
    #expect(text.contains("user_update 7001 balance=1000.00 credit=0.00"))
    #expect(text.contains("position_delete") && text.contains("volume=0\n"))
    // The user update after the closing deal shows its profit: average open 1.1000133…,
    // (1.10102 − 1.1000133…) × 100,000 × 0.3 = 30.20; commissions 0.35 + 0.70 + 1.05.
    #expect(text.contains("user_update 7001 balance=1028.10"))
    #expect(journal.writtenLines.contains { $0.contains("Recorder\tINFO\trecording hooks") })
    // The Manager-API view from the plugin's own thread: 1 account, 4 deals, no MT4 records.
    #expect(text.contains("cleanup walks=some users=1 deals=4 records=n/a:0 open=0 user_get=found balance=1028.10 unsubscribe=0"))
    let startupTime = try #require(text.split(separator: "\n").first?.split(separator: "=").last.flatMap { Int64($0) })
    let brokerNow = Int64(Date().timeIntervalSince1970 * 1000) + 120 * 60_000
    #expect(abs(startupTime - brokerNow) < 60_000)  // time_msc is broker time: UTC + 120 minutes
  }

  @Test func anMT4PluginHearsTradeRecordsWithModesAndTheNewTicketOfAPartialClose() throws {
    let library = try CPlugins.build("recorder", source: CPlugins.recorder)
    let record = temporaryFile("mt4-record.txt")
    var configuration = SimulationConfiguration()
    configuration.platform = .mt4
    configuration.plugins = [library]
    configuration.parameters = ["Record": record]
    configuration.scenario = try writeScenario("mt4.jsonl", [
      #"{"op":"create_account","login":4001}"#,
      #"{"op":"balance","login":4001,"action":"balance","amount":"500.00","comment":"deposit"}"#,
      #"{"op":"balance","login":4001,"action":"credit","amount":"100.00","comment":"credit in"}"#,
      #"{"op":"market","login":4001,"symbol":"EURUSD","side":"sell","volume":"1.00","ref":"t","fills":[{"volume":"1.00","price":"1.10000"}]}"#,
      #"{"op":"close","position":"t","volume":"0.25","price":"1.09990","rest_ref":"r"}"#,
      #"{"op":"close","position":"r"}"#,
    ])
    let server = SimulatedTradeServer(configuration: configuration, journal: try HostJournal(path: temporaryFile("mt4.log")))
    #expect(server.loadPlugins() == 1)
    _ = try server.run()
    server.unloadPlugins()
    let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(lines.contains { $0.hasPrefix("trade_add") && $0.contains("mode=0 cmd=6") && $0.contains("comment=deposit") })
    #expect(lines.contains { $0.hasPrefix("trade_add") && $0.contains("mode=0 cmd=7") && $0.contains("comment=credit in") })
    let closed = try #require(lines.first { $0.hasPrefix("trade_update") && $0.contains("mode=2") && $0.contains("volume=25") })
    let rest = try #require(lines.first { $0.hasPrefix("trade_add") && $0.contains("mode=1") })
    let original = closed.split(separator: " ")[1]
    #expect(rest.contains("volume=75 comment=from #\(original)"))
    #expect(try recordedHooks(record).suffix(3) == ["trade_update", "user_update", "cleanup"])
    // History: deposit, credit, the closed part, the closed remainder; nothing open.
    #expect(lines.last == "cleanup walks=some users=1 deals=n/a:0 records=4 open=0 user_get=found balance=1724.00 unsubscribe=0")
  }

  @Test func aPluginWhoseStartupFailsIsUnloadedWithItsReasonInTheJournal() throws {
    let library = try CPlugins.build("recorder", source: CPlugins.recorder)
    var configuration = SimulationConfiguration()
    configuration.plugins = [library]  // no Record parameter: startup fails
    configuration.length = .events(200)
    configuration.accounts = 4
    let journal = try HostJournal(path: temporaryFile("failing.log"), keepsLines: true)
    let server = SimulatedTradeServer(configuration: configuration, journal: journal)
    #expect(server.loadPlugins() == 0)
    #expect(server.host.loadedPlugins.isEmpty)
    #expect(server.host.activeSinks.isEmpty)  // its subscription went with it
    let lines = journal.writtenLines
    #expect(lines.contains { $0.contains("Recorder\tERROR\tparameter Record is required") })
    #expect(lines.contains { $0.contains("plugin unloaded: ts_plugin_startup failed with TS_ERR_CONFIG (3)") })
    let summary = try server.run()  // the server runs on without it
    #expect(summary.eventsFired >= 200)
  }

  @Test func aLibraryWithoutThePluginExportsIsRefusedWithItsReason() throws {
    let library = try CPlugins.build("empty", source: "int unrelated(void) { return 1; }\n")
    let journal = try HostJournal(path: temporaryFile("empty.log"), keepsLines: true)
    let host = PluginHost(serverID: 1, platform: 5, utcOffsetMinutes: 0, parameters: [:], journal: journal)
    #expect(!host.load(path: library))
    #expect(journal.writtenLines.contains { $0.contains("not exported") })
    #expect(!host.load(path: "/nonexistent/libnothing.so"))
    #expect(journal.writtenLines.contains { $0.contains("plugin not loaded") })
  }

  @Test func everyEventTheRunFiresReachesEveryHookFromEveryThread() throws {
    let library = try CPlugins.build("counter", source: CPlugins.counter)
    var configuration = SimulationConfiguration()
    configuration.plugins = [library]
    configuration.length = .events(50_000)
    configuration.threads = 4
    configuration.rate = 0
    let journal = try HostJournal(path: temporaryFile("counter.log"), keepsLines: true)
    let server = SimulatedTradeServer(configuration: configuration, journal: journal)
    #expect(server.loadPlugins() == 1)
    let summary = try server.run()
    server.unloadPlugins()
    #expect(summary.eventsFired >= 50_000)
    #expect(journal.writtenLines.contains { $0.contains("hook calls: \(summary.eventsFired)") })
  }

  @Test func appliedParametersReachThePluginThroughConfigSetAndParamGet() throws {
    let library = try CPlugins.build("counter", source: CPlugins.counter)
    let journal = try HostJournal(path: temporaryFile("config.log"), keepsLines: true)
    let host = PluginHost(serverID: 1, platform: 5, utcOffsetMinutes: 0, parameters: ["Groups": "*"], journal: journal)
    #expect(host.load(path: library))
    #expect(host.applyParameters(["Events": "deals", "Groups": "real*"]) == ["Counter": 0])
    #expect(host.applyParameters([:]) == ["Counter": 3])  // TS_ERR_CONFIG: the plugin keeps its old ones
    host.unloadAll()
    let lines = journal.writtenLines
    #expect(lines.contains { $0.contains("config_set 2 params, first Events=deals, param_get agrees: yes") })
    #expect(lines.contains { $0.contains("parameters refused: TS_ERR_CONFIG (3)") })
  }

  @Test func missedEventsChangeTheStateButNeverReachTheHooks() throws {
    let library = try CPlugins.build("counter", source: CPlugins.counter)
    var configuration = SimulationConfiguration()
    configuration.plugins = [library]
    configuration.length = .events(20_000)
    configuration.rate = 0
    configuration.missEventsPercent = 10
    let journal = try HostJournal(path: temporaryFile("miss.log"), keepsLines: true)
    let server = SimulatedTradeServer(configuration: configuration, journal: journal)
    server.loadPlugins()
    let summary = try server.run()
    server.unloadPlugins()
    #expect(summary.eventsMissed > 0)
    #expect(journal.writtenLines.contains { $0.contains("hook calls: \(summary.eventsFired)") })
  }
}
