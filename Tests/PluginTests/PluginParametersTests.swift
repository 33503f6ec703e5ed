import Testing
import TradeTapPluginCore

@Suite("Parameters")
struct PluginParametersTests {
  let secret = "/proc/self/cmdline"  // any readable file

  func validate(_ values: [String: String]) -> Result<PluginParameters, ParameterProblems> {
    PluginParameters.validate(serverId: 7) { values[$0] }
  }

  @Test func unsetParametersTakeTheSpecDefaults() throws {
    let parameters = try validate(["Collector": "a:1,b:2", "SecretFile": secret]).get()
    #expect(parameters.collectors.map(\.description) == ["a:1", "b:2"])
    #expect(parameters.tlsEnabled)
    #expect(parameters.tlsCAFile == nil && parameters.tlsServerName == nil)
    #expect(parameters.journalPath == "tradetap-journal-7")
    #expect(parameters.journalSizeMB == 256)
    #expect(parameters.groups == .everyGroup)
    #expect(parameters.events == .all)
    #expect(parameters.heartbeatSeconds == 5)
  }

  @Test func collectorAndSecretFileAreRequired() throws {
    guard case .failure(let problems) = validate([:]) else { Issue.record("accepted"); return }
    #expect(problems.lines.count == 2)
    #expect(problems.lines[0].hasPrefix("parameter Collector: required"))
    #expect(problems.lines[1].hasPrefix("parameter SecretFile: required"))
  }

  @Test func everyInvalidValueIsReportedOnItsOwnLine() {
    let values = [
      "Collector": "host", "SecretFile": "/nonexistent/secret", "TLS": "yes", "Journal.SizeMB": "0",
      "Groups": "", "Events": "deals,,fills", "Heartbeat.Seconds": "x",
    ]
    guard case .failure(let problems) = validate(values) else { Issue.record("accepted"); return }
    let names = problems.lines.map { $0.split(separator: ":")[0] }
    #expect(names == [
      "parameter Collector", "parameter SecretFile", "parameter TLS", "parameter Journal.SizeMB",
      "parameter Events", "parameter Heartbeat.Seconds",
    ])  // an empty Groups is unset: the default applies
  }

  @Test func tlsOffAndEventSubsetsAreAccepted() throws {
    let parameters = try validate([
      "Collector": "127.0.0.1:1", "SecretFile": secret, "TLS": "OFF", "Events": " Deals , users ", "Groups": "real*,!*test",
    ]).get()
    #expect(!parameters.tlsEnabled)
    #expect(parameters.events == [.deals, .users])
    #expect(parameters.groups.admits("real\\usd") && !parameters.groups.admits("real-test"))
  }
}

/// Finding 8 of issue 10: `TLS=off` worked with any collector address. Plaintext is
/// for this machine only unless `TLS.AllowInsecure=yes` says the network is trusted.
@Suite("Parameters: plaintext only on loopback")
struct PlaintextParameterTests {
  let secret = "/proc/self/cmdline"

  func validate(_ values: [String: String]) -> Result<PluginParameters, ParameterProblems> {
    PluginParameters.validate(serverId: 7) { values[$0] }
  }

  @Test(arguments: ["127.0.0.1:7400", "127.9.8.7:7400", "localhost:7400", "[::1]:7400", "[::ffff:127.0.0.1]:7400"])
  func tlsOffIsAcceptedForALoopbackCollector(collector: String) throws {
    let parameters = try validate(["Collector": collector, "SecretFile": secret, "TLS": "off"]).get()
    #expect(!parameters.tlsEnabled && !parameters.tlsAllowInsecure)
  }

  @Test(arguments: ["10.0.0.5:7400", "collector.example:7400", "0.0.0.0:7400", "[2001:db8::1]:7400", "127.0.0.1:1,10.0.0.5:2"])
  func tlsOffIsRefusedForACollectorOffThisMachine(collector: String) {
    guard case .failure(let problems) = validate(["Collector": collector, "SecretFile": secret, "TLS": "off"]) else {
      Issue.record("TLS=off accepted for \(collector)")
      return
    }
    #expect(problems.lines.count == 1)
    #expect(problems.lines[0].hasPrefix("parameter TLS: off is refused for a collector that is not on loopback"))
    #expect(problems.lines[0].contains("TLS.AllowInsecure=yes"))
  }

  @Test func allowInsecureLetsTlsOffReachARemoteCollector() throws {
    let parameters = try validate([
      "Collector": "10.0.0.5:7400", "SecretFile": secret, "TLS": "off", "TLS.AllowInsecure": "YES",
    ]).get()
    #expect(!parameters.tlsEnabled && parameters.tlsAllowInsecure)
  }

  @Test func tlsOnNeedsNoAllowanceAndAnUnknownAllowanceIsRefused() throws {
    _ = try validate(["Collector": "10.0.0.5:7400", "SecretFile": secret]).get()
    guard case .failure(let problems) = validate([
      "Collector": "127.0.0.1:1", "SecretFile": secret, "TLS.AllowInsecure": "maybe",
    ]) else { Issue.record("accepted"); return }
    #expect(problems.lines == ["parameter TLS.AllowInsecure: 'maybe' is neither yes nor no"])
  }
}

@Suite("Group masks")
struct GroupMaskTests {
  @Test func starMatchesAnyRunIncludingBackslashes() throws {
    let mask = try #require(GroupMask(parsing: "*"))
    #expect(mask.admits("real\\usd\\vip"))
    #expect(mask.admits(""))
  }

  @Test func exclusionsWinOverInclusions() throws {
    let mask = try #require(GroupMask(parsing: "*,!demo*"))
    #expect(mask.admits("real\\usd"))
    #expect(!mask.admits("demo\\usd"))
    #expect(!mask.admits("DEMOforex"))  // case-insensitive, as MT matches groups
  }

  @Test func masksMatchInTheMiddleAndAtTheEnd() throws {
    let mask = try #require(GroupMask(parsing: "real\\*\\usd, *vip"))
    #expect(mask.admits("real\\a\\usd"))
    #expect(mask.admits("gold-vip"))
    #expect(!mask.admits("real\\a\\eur"))
    #expect(!mask.admits("vip-gold"))
  }

  @Test func aListOfOnlyExclusionsOrEmptyElementsIsRefused() {
    #expect(GroupMask(parsing: "!demo*") == nil)
    #expect(GroupMask(parsing: "*,,real") == nil)
    #expect(GroupMask(parsing: "") == nil)
  }
}

@Suite("Login group directory")
struct LoginGroupDirectoryTests {
  @Test func loginsAreAdmittedByTheirRecordedGroup() throws {
    var directory = LoginGroupDirectory(mask: try #require(GroupMask(parsing: "*,!demo*")))
    directory.record(login: 1, group: "real\\usd")
    directory.record(login: 2, group: "demo\\usd")
    #expect(directory.admission(of: 1) == .admitted)
    #expect(directory.admission(of: 2) == .excluded)
    #expect(directory.admission(of: 3) == .unknownLogin)
  }

  @Test func aLoginMovedToAnotherGroupIsJudgedByTheNewOne() throws {
    var directory = LoginGroupDirectory(mask: try #require(GroupMask(parsing: "*,!demo*")))
    directory.record(login: 1, group: "demo\\usd")
    directory.record(login: 1, group: "real\\usd")
    #expect(directory.admission(of: 1) == .admitted)
    directory.forget(login: 1)
    #expect(directory.admission(of: 1) == .unknownLogin)
  }

  @Test func replacingTheMaskDropsCachedDecisions() throws {
    var directory = LoginGroupDirectory(mask: .everyGroup)
    directory.record(login: 1, group: "demo")
    #expect(directory.admission(of: 1) == .admitted)
    directory.replaceMask(try #require(GroupMask(parsing: "*,!demo")))
    #expect(directory.admission(of: 1) == .excluded)
  }
}
