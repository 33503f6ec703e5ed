import Foundation
import Testing
import TradeServerAPI

/// Finding 8 of issue 10, through the real plugin in the plain-C host: `TLS=off` to a
/// collector off this machine fails `ts_plugin_startup` and `ts_plugin_config_set`
/// with one logged reason, never a trap; `TLS.AllowInsecure=yes` lets it through.
/// `0.0.0.0` stands for "not loopback" here: the one such address that never leaves
/// this machine should a broken check let the sender dial it.
@Suite("Plugin: plaintext only on loopback")
struct PlaintextOnLoopbackTests {
  @Test func startupRefusesTlsOffToACollectorOffLoopback() throws {
    var setup = CHost.Setup()
    setup.parameters["Collector"] = "0.0.0.0:7400"
    setup.parameters["TLS"] = "off"
    let result = try CHost.launch(setup, [])
    #expect(result.status == 3)
    #expect(hostValues(result.stdout, "startup") == ["\(TS_ERR_CONFIG)"])
    #expect(result.stderr.contains("[error] TradeTap: parameter TLS: off is refused for a collector that is not on loopback (0.0.0.0:7400)"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: setup.journalPath + "/journal.ttj"))
  }

  @Test func configSetRefusesTlsOffToACollectorOffLoopbackAndKeepsThePreviousSet() throws {
    var setup = CHost.Setup()
    setup.parameters["Collector"] = "127.0.0.1:9"
    setup.parameters["TLS"] = "off"
    let result = try CHost.launch(setup, ["--reload", "Collector=0.0.0.0:7400", "--threads", "1", "--events", "10"])
    #expect(hostValues(result.stdout, "startup") == ["0"], "\(result.stderr)")
    #expect(hostValues(result.stdout, "reload") == ["\(TS_ERR_CONFIG)"])
    #expect(result.stderr.contains("parameter TLS: off is refused"), "\(result.stderr)")
    #expect(result.stderr.contains("configuration refused: the previous parameters stay in force"))
  }

  @Test func allowInsecureLetsTheOperatorChoosePlaintextOffLoopback() throws {
    var setup = CHost.Setup()
    setup.parameters["Collector"] = "0.0.0.0:9"
    setup.parameters["TLS"] = "off"
    setup.parameters["TLS.AllowInsecure"] = "yes"
    let result = try CHost.launch(setup, ["--threads", "1", "--events", "10"])
    #expect(hostValues(result.stdout, "startup") == ["0"], "\(result.stderr)")
    #expect(!result.stderr.contains("[error]"), "\(result.stderr)")
  }
}
