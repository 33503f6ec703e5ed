import Testing
import TradeTapPluginCore

/// `Sender.Idle` (issue 16): the sender's idle strategy, validated like every parameter.
@Suite("Parameters: Sender.Idle")
struct SenderIdleParameterTests {
  let secret = "/proc/self/cmdline"  // any readable file

  func validate(_ idle: String?) -> Result<PluginParameters, ParameterProblems> {
    let values = ["Collector": "127.0.0.1:1", "SecretFile": secret, "Sender.Idle": idle]
    return PluginParameters.validate(serverId: 7) { values[$0] ?? nil }
  }

  @Test func unsetIsBackoffWithTodaysFiftyMicrosecondPoll() throws {
    #expect(try validate(nil).get().senderIdle == .backoff(pollMicroseconds: 50))
    #expect(PluginParameters.definitions.first { $0.name == "Sender.Idle" }.map { "\($0.name)=\($0.defaultValue)" }
            == "Sender.Idle=backoff")
  }

  @Test(arguments: [
    ("busy-spin", SenderIdle.busySpin), ("YIELD", .yield), ("backoff", .backoff(pollMicroseconds: 50)),
    (" backoff:20 ", .backoff(pollMicroseconds: 20)), ("Park", .park),
  ])
  func everyStrategyIsAccepted(text: String, expected: SenderIdle) throws {
    let idle = try validate(text).get().senderIdle
    #expect(idle == expected)
    #expect(SenderIdle(parameterText: idle.parameterText) == idle)
  }

  @Test(arguments: ["spin", "busy_spin", "backoff:0", "backoff:1001", "backoff:", "backoff:x", "park,yield"])
  func anUnknownStrategyIsRefusedOnItsOwnLine(text: String) {
    guard case .failure(let problems) = validate(text) else { Issue.record("'\(text)' accepted"); return }
    #expect(problems.lines == [
      "parameter Sender.Idle: '\(text)' is not busy-spin, yield, backoff, backoff:<µs 1-1000> or park",
    ])
  }
}

/// `Commands` (issue 17): whether the plugin runs the collector's CRM commands.
@Suite("Parameters: Commands")
struct CommandsParameterTests {
  func validate(_ commands: String?) -> Result<PluginParameters, ParameterProblems> {
    let values = ["Collector": "127.0.0.1:1", "SecretFile": "/proc/self/cmdline", "Commands": commands]
    return PluginParameters.validate(serverId: 7) { values[$0] ?? nil }
  }

  @Test func onUnlessSetOffAndListedByAbout() throws {
    #expect(try validate(nil).get().commandsEnabled)
    #expect(try validate("ON").get().commandsEnabled)
    #expect(try !validate(" off ").get().commandsEnabled)
    #expect(PluginParameters.definitions.contains { $0.name == "Commands" && $0.defaultValue == "on" })
  }

  @Test func anythingElseIsRefusedOnItsOwnLine() {
    guard case .failure(let problems) = validate("no") else { Issue.record("'no' accepted"); return }
    #expect(problems.lines == ["parameter Commands: 'no' is neither on nor off"])
  }
}
