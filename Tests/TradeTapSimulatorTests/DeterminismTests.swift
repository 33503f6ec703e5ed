import Foundation
import Testing
import TradeTapSimulator

/// The state of a plugin-less run, with wall-clock times removed (the only part
/// a seed does not fix).
func stateWithoutTimes(seed: UInt64, platform: SimulationConfiguration.Platform, threads: Int = 2) throws -> String {
  var configuration = SimulationConfiguration()
  configuration.platform = platform
  configuration.seed = seed
  configuration.length = .events(30_000)
  configuration.threads = threads
  configuration.rate = 0
  configuration.accounts = 50
  let server = SimulatedTradeServer(configuration: configuration, journal: try HostJournal(path: temporaryFile("seed.log")))
  _ = try server.run()
  let state = ServerStateWriter.render(shards: server.shards, configuration: configuration)
  let times = try Regex(#"(_msc|_time)":\d+"#)
  return state.replacing(times, with: #"_time":0"#)
}

@Suite("Repeatable runs")
struct DeterminismTests {
  @Test(arguments: [SimulationConfiguration.Platform.mt5, .mt4])
  func theSameSeedGivesTheSameStateTwice(platform: SimulationConfiguration.Platform) throws {
    let first = try stateWithoutTimes(seed: 42, platform: platform)
    let second = try stateWithoutTimes(seed: 42, platform: platform)
    let other = try stateWithoutTimes(seed: 43, platform: platform)
    #expect(first == second)
    #expect(first != other)
    #expect(first.contains("\"balance\":"))
  }

  @Test func theStateKeepsMoneyAsExactDecimalStrings() throws {
    let state = try stateWithoutTimes(seed: 5, platform: .mt5)
    let data = try #require(state.data(using: .utf8))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let accounts = try #require(object["accounts"] as? [[String: Any]])
    #expect(accounts.count == 50)
    for account in accounts {
      let balance = try #require(account["balance"] as? String)
      #expect(balance.split(separator: ".").last?.count == 2)
    }
    let deals = try #require(object["deals"] as? [[String: Any]])
    #expect(deals.contains { ($0["entry"] as? Int) == 2 })  // netting reversals happen
    #expect(deals.contains { ($0["entry"] as? Int) == 3 })  // and close-by
    #expect(deals.contains { ($0["reason"] as? Int) == 5 })  // and stop-outs
    #expect(deals.contains { ($0["action"] as? Int) == 3 })  // and credit
  }
}
