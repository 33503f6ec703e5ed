import Foundation
import Testing
import TradeTapSimulator

let scenarioFolder = CPlugins.packageRoot + "/Tools/scenarios"

/// Replays one example scenario without plugins and returns the server and summary.
func replay(_ file: String) throws -> (SimulatedTradeServer, SimulationSummary) {
  var configuration = SimulationConfiguration()
  configuration.platform = file.hasPrefix("mt4") ? .mt4 : .mt5
  configuration.scenario = scenarioFolder + "/" + file
  let server = SimulatedTradeServer(configuration: configuration,
                                    journal: try HostJournal(path: temporaryFile("scenario-\(file).log")))
  let summary = try server.run()
  return (server, summary)
}

struct NotMT5: Error {}

func mt5(_ server: SimulatedTradeServer) throws -> MT5TradeServer {
  guard case .mt5(let engine) = server.shards[0].server else { throw NotMT5() }
  return engine
}

@Suite("Example scenarios (Tools/scenarios)")
struct ScenarioTests {
  static let files = ((try? FileManager.default.contentsOfDirectory(atPath: scenarioFolder)) ?? [])
    .filter { $0.hasSuffix(".jsonl") }.sorted()

  @Test func thereAreExamplesForBothDialects() {
    #expect(Self.files.contains { $0.hasPrefix("mt4") } && Self.files.contains { $0.hasPrefix("mt5") })
  }

  @Test(arguments: files)
  func everyExampleReplaysWithoutError(file: String) throws {
    let (_, summary) = try replay(file)
    #expect(summary.eventsFired > 0)
  }

  @Test func theNettingExampleEndsFlatAfterOneReversal() throws {
    let engine = try mt5(try replay("mt5-netting-reversal.jsonl").0)
    #expect(engine.positions.isEmpty)
    #expect(engine.deals.filter { $0.entry == .inOut }.count == 1)
  }

  @Test func theStopOutExampleKeepsCreditApartFromTheCompensatedBalance() throws {
    let engine = try mt5(try replay("mt5-stop-out.jsonl").0)
    let account = try #require(engine.accounts[50004])
    #expect(account.balance == 0 && account.credit == 200_000)
    #expect(engine.deals.contains { $0.reason == Reason.stopOut && $0.action == .sell })
    #expect(engine.deals.last?.action == .soCompensation)
  }

  @Test func theMissedDepositChangesTheBalanceWithoutAHook() throws {
    let (server, summary) = try replay("mt5-missed-deposit.jsonl")
    #expect(summary.eventsMissed == 2)  // its deal and its user update
    #expect(try mt5(server).accounts[50007]?.balance == 100_000)
  }

  @Test func aQuoteForAnUnknownSymbolIsAScenarioError() throws {
    let path = try writeScenario("unknown-symbol.jsonl", [#"{"op":"quote","symbol":"NOPE","bid":"1.0"}"#])
    var configuration = SimulationConfiguration()
    configuration.scenario = path
    let server = SimulatedTradeServer(configuration: configuration, journal: try HostJournal(path: temporaryFile("nope.log")))
    #expect { try server.run() } throws: { error in
      (error as? ScenarioError)?.description == "scenario line 1: unknown symbol NOPE"
    }
  }

  @Test func aScenarioLineTheServerRefusesStopsTheReplayWithItsLineNumber() throws {
    let path = try writeScenario("refused.jsonl", [
      #"{"op":"create_account","login":1,"margin":"hedging"}"#,
      #"{"op":"balance","login":1,"action":"balance","amount":"-5.00"}"#,
    ])
    var configuration = SimulationConfiguration()
    configuration.scenario = path
    let server = SimulatedTradeServer(configuration: configuration, journal: try HostJournal(path: temporaryFile("refused.log")))
    #expect { try server.run() } throws: { error in
      (error as? ScenarioError)?.description.hasPrefix("scenario line 2: the server rejected it") == true
    }
  }
}
