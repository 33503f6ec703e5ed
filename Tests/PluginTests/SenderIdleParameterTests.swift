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
    #expect(PluginParameters.definitions.last.map { "\($0.name)=\($0.defaultValue)" } == "Sender.Idle=backoff")
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
