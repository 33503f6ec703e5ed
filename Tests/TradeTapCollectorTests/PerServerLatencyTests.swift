import Glibc
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapLedger

/// Hook → durable latency per server (docs/console.md, `GET /v1/status`): each
/// server's events land in its own histogram and in the all-servers one; at most
/// `serverLimit` servers get one.
@Suite("Per-server hook → durable latency")
struct PerServerLatencyTests {
  static func monotonic() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
  }

  /// `count` events of `server` stamped `ago` nanoseconds before now.
  static func batch(server: UInt32, count: Int, ago: UInt64) -> LedgerBatch {
    let hook = monotonic() - ago
    let events = (1...count).map { i -> Event in
      var event = CRMEvents.deal(seq: UInt64(i), deal: UInt64(i), login: 1000, second: 0)
      event.serverId = server
      event.hookTimestampNanos = hook
      return event
    }
    return LedgerBatch(serverId: server, events: events)
  }

  @Test func eachServerHasItsOwnQuantilesAndTheLimitHolds() {
    let metrics = CollectorMetrics(serverLimit: 2)
    let latency = metrics.deliveryLatency
    latency.recordDurable([
      Self.batch(server: 1, count: 100, ago: 1_000_000), Self.batch(server: 2, count: 50, ago: 100_000_000),
    ])
    latency.recordDurable([Self.batch(server: 3, count: 10, ago: 1_000_000), Self.batch(server: 1, count: 100, ago: 1_000_000)])
    let byServer = latency.durableByServerId
    #expect(Set(byServer.keys) == [1, 2], "a third server is over the limit: \(byServer.keys.sorted())")
    #expect(byServer[1]?.count == 200 && byServer[2]?.count == 50)
    #expect(latency.durable.count == 260, "the all-servers histogram has every event")
    let one = byServer[1]?.quantile(0.99) ?? 0, two = byServer[2]?.quantile(0.5) ?? 0
    #expect(one >= 1_000_000 && one < 50_000_000, "server 1 p99 \(one) ns")
    #expect(two >= 100_000_000 && two < 150_000_000, "server 2 p50 \(two) ns")
  }
}
