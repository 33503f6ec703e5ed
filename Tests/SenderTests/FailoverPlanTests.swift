import Testing
import TradeTapPluginCore

@Suite struct FailoverPlanSpecification {
  let endpoints = CollectorEndpoint.list(parsing: "primary:7400, backup:7401,[::1]:7402")!

  @Test func collectorParameterParsesAsAnOrderedList() {
    #expect(endpoints.map(\.description) == ["primary:7400", "backup:7401", "[::1]:7402"])
    #expect(endpoints[2].host == "::1")
  }

  @Test func malformedCollectorParametersAreRejected() {
    for text in ["", "host", "host:", "host:0", "host:70000", ":7400", "::1:7400", "a:1,,b:2", "[::1]7400"] {
      #expect(CollectorEndpoint.list(parsing: text) == nil, "\(text) accepted")
    }
  }

  @Test func failedConnectionsMoveThroughTheListInOrderWithoutWaitingWithinARound() {
    var random = KernelRandom()
    var plan = FailoverPlan(endpoints: endpoints, backoff: ReconnectBackoff(initialMilliseconds: 100, capMilliseconds: 1_000))!
    var dialed = [plan.current.description]
    var waits: [Int64] = []
    for _ in 0..<6 {
      waits.append(plan.connectionFailed(using: &random))
      dialed.append(plan.current.description)
    }
    #expect(dialed == ["primary:7400", "backup:7401", "[::1]:7402", "primary:7400", "backup:7401", "[::1]:7402", "primary:7400"])
    #expect(waits[0] == 0 && waits[1] == 0 && waits[3] == 0 && waits[4] == 0)
    #expect(waits[2] >= 50 && waits[2] <= 100, "first full round waits the initial backoff")
    #expect(waits[5] >= 100 && waits[5] <= 200, "second full round waits twice as long")
  }

  @Test func anEndedSessionStartsOverFromThePrimary() {
    var random = KernelRandom()
    var plan = FailoverPlan(endpoints: endpoints)!
    _ = plan.connectionFailed(using: &random)
    #expect(plan.current.description == "backup:7401")
    plan.sessionEstablished()
    let wait = plan.sessionEnded(using: &random)
    #expect(plan.current.description == "primary:7400")
    #expect(wait >= 100 && wait <= 200)
  }

  @Test func aPlanNeedsAtLeastOneCollector() {
    #expect(FailoverPlan(endpoints: []) == nil)
  }
}
