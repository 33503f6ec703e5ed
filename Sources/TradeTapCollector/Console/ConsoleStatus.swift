import Hummingbird
import Synchronization
import TradeTapLedger

/// `GET /v1/status`: one read of everything the console's Servers view shows
/// (docs/console.md): per trade server its state (green / amber / red), events/s,
/// lag, durable sequence, open gaps, last event, last reconciliation and held
/// sweeps (events/s over the last 5 s) and hook → durable latency; the collector's
/// hook → durable latency (all servers) over the last half minute and
/// reconciliation divergences since start; each output's lag and dead letters.
/// Authenticated like every route; JSON; a few ledger reads and in-memory counters.
struct ConsoleStatus: Sendable {
  let queries: LedgerQueries
  /// The collector's metrics; nil in a server started without them (tests): then
  /// no rates, no latency, and the connection state comes from the ledger alone.
  let metrics: CollectorMetrics?
  let outputs: Outputs
  let samples: StatusSamples

  /// Lag (seconds) at or above which a connected server is amber.
  static let amberLagSeconds = 5.0

  func register(on router: Router<BasicRequestContext>) {
    router.get("/v1/status") { request, _ in try await status(request) }
  }

  private func status(_ request: Request) async throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    let rows = try await queries.servers()
    let lastChangeId = try await queries.lastChangeId()
    let lags = metrics?.lagSeconds() ?? [:]
    let now = DeliveryLatency.monotonicNanoseconds()
    let window = samples.take(
      now: now, sequences: metrics?.durableSequences ?? [:], latency: metrics?.deliveryLatency.durable,
      latencyByServer: metrics?.deliveryLatency.durableByServerId ?? [:])
    var json = JSONWriter()
    json.object { o in
      o.field("collector") {
        $0.object { c in
          c.field("time_utc", UTCTime.now())
          c.field("connections_open", metrics.map { Int64($0.connectionsOpen.value) })
          c.field("reconciliation_divergences", metrics.map { Int64($0.reconciliation.divergences.value) })
          c.field("hook_to_durable") {
            $0.object { l in
              l.field("window_seconds", window.seconds)
              l.field("events", window.latencyCount.map(Int64.init))
              l.field("p50_seconds", window.p50.map { Double($0) / 1e9 })
              l.field("p99_seconds", window.p99.map { Double($0) / 1e9 })
            }
          }
        }
      }
      o.field("last_change_id", lastChangeId)
      o.field("servers") {
        $0.array(rows) { w, row in
          w.object { s in
            let id = row.integer("server_id").flatMap { UInt32(exactly: $0) }
            let connection = Self.connection(row, id.flatMap { lags[$0] })
            let lag = CRMRoutes.lag(row, lags)
            let gaps = row.integer("open_gaps") ?? 0, held = row.integer("held_sweeps") ?? 0
            s.field("server_id", row.integer("server_id"))
            s.field("name", row.text("name"))
            s.field("platform", row.integer("platform"))
            s.field("connection", connection)
            s.field("state", Self.state(connection: connection, lag: lag, openGaps: gaps, heldSweeps: held))
            s.field("events_per_second", id.flatMap { window.eventsPerSecond[$0] })
            s.field("lag_seconds", lag)
            s.field("last_seq", row.integer("last_seq"))
            s.field("open_gaps", gaps)
            s.field("last_event_received_utc", row.text("last_event_received_utc"))
            s.field("last_connected_utc", row.text("last_connected_utc"))
            s.field("last_disconnected_utc", row.text("last_disconnected_utc"))
            s.field("last_reconciliation_utc", row.text("last_reconciliation_utc"))
            s.field("held_sweeps", held)
            s.field("held_sweep_id", row.integer("held_sweep_id"))
            let latency = id.flatMap { window.latencyByServer[$0] }
            s.field("hook_to_durable") {
              $0.object { l in
                l.field("events", latency.map { Int64($0.count) })
                l.field("p50_seconds", latency?.p50.map { Double($0) / 1e9 })
                l.field("p99_seconds", latency?.p99.map { Double($0) / 1e9 })
              }
            }
          }
        }
      }
      o.field("outputs") {
        $0.array(outputs.services) { w, service in
          let s = service.status
          w.object { o in
            o.field("name", s.name)
            o.field("kind", s.kind)
            o.field("lag_changes", max(0, s.lastChangeId - s.cursor))
            o.field("lag_seconds", s.lagSeconds)
            o.field("dead_letters", s.deadLetters)
            o.field("last_error", s.lastError)
          }
        }
      }
    }
    return CRMRoutes.json(json)
  }

  /// The live connection when this collector has seen the server since it started
  /// (a lag entry: a number while connected, nil once the connection is gone);
  /// otherwise what the ledger last recorded.
  static func connection(_ row: LedgerRecord, _ live: Double??) -> String {
    switch live {
    case .some(.some): "connected"
    case .some(.none): "disconnected"
    case .none: CRMRoutes.connection(row)
    }
  }

  /// red: not connected; amber: connected but behind (lag ≥ 5 s), with an open gap
  /// or a held sweep waiting for an operator; green otherwise.
  static func state(connection: String, lag: Double?, openGaps: Int64, heldSweeps: Int64) -> String {
    guard connection == "connected" else { return "red" }
    if (lag ?? 0) >= amberLagSeconds || openGaps > 0 || heldSweeps > 0 { return "amber" }
    return "green"
  }
}

/// Samples of the durable sequences and the hook → durable histogram, at most one
/// per ``spacing``, kept for ``horizon``: the status route's latency quantiles are
/// the difference between now and the oldest sample kept (the last half minute),
/// its rates the difference from the oldest sample of the last 5 s; the same
/// whoever asks and however often.
final class StatusSamples: Sendable {
  struct Sample {
    let nanoseconds: UInt64
    let sequences: [UInt32: UInt64]
    /// Events per histogram bucket (upper edge in nanoseconds).
    let latency: [UInt64: UInt64]
    /// The same per server.
    let latencyByServer: [UInt32: [UInt64: UInt64]]
  }

  struct Quantiles {
    var count: UInt64
    var p50: UInt64?
    var p99: UInt64?
  }

  struct Window {
    var seconds: Double? = nil
    var eventsPerSecond: [UInt32: Double] = [:]
    var latencyCount: UInt64? = nil
    var p50: UInt64? = nil
    var p99: UInt64? = nil
    /// Hook → durable over the same window, per server with a histogram.
    var latencyByServer: [UInt32: Quantiles] = [:]
  }

  static let spacing: UInt64 = 1_000_000_000
  static let horizon: UInt64 = 30_000_000_000
  /// Events/s cover at most this much (the latency covers ``horizon``).
  static let rateHorizon: UInt64 = 5_000_000_000
  private let kept = Mutex<[Sample]>([])

  func take(
    now: UInt64, sequences: [UInt32: UInt64], latency: LatencyHistogram?,
    latencyByServer: [UInt32: LatencyHistogram] = [:]
  ) -> Window {
    let current = Sample(
      nanoseconds: now, sequences: sequences, latency: latency?.bucketCounts() ?? [:],
      latencyByServer: latencyByServer.mapValues { $0.bucketCounts() })
    let (oldest, recent) = kept.withLock { all -> (Sample?, Sample?) in
      all.removeAll { now &- $0.nanoseconds > Self.horizon }
      let recent = all.first { now &- $0.nanoseconds <= Self.rateHorizon }
      if all.last.map({ now &- $0.nanoseconds >= Self.spacing }) ?? true { all.append(current) }
      return (all.first, recent)
    }
    guard let oldest, now > oldest.nanoseconds else { return Window() }
    var window = Window()
    let seconds = Double(now - oldest.nanoseconds) / 1e9
    guard seconds >= 0.5 else { return window }
    window.seconds = seconds
    // Rates over the last few seconds only, so a server that stopped shows 0 soon.
    if let recent, now &- recent.nanoseconds >= Self.spacing / 2 {
      let rateSeconds = Double(now - recent.nanoseconds) / 1e9
      for (server, sequence) in sequences {
        let before = recent.sequences[server] ?? sequence
        window.eventsPerSecond[server] = Double(sequence >= before ? sequence - before : 0) / rateSeconds
      }
    }
    // A server's histogram is created on its first batch: missing in the oldest
    // sample means empty then.
    for (server, counts) in current.latencyByServer {
      window.latencyByServer[server] = Self.quantiles(counts, since: oldest.latencyByServer[server] ?? [:])
    }
    guard latency != nil else { return window }
    let all = Self.quantiles(current.latency, since: oldest.latency)
    window.latencyCount = all.count
    window.p50 = all.p50
    window.p99 = all.p99
    return window
  }

  /// p50 and p99 of the events recorded between two bucket-count samples.
  static func quantiles(_ current: [UInt64: UInt64], since oldest: [UInt64: UInt64]) -> Quantiles {
    var delta: [(edge: UInt64, count: UInt64)] = []
    for (edge, count) in current {
      let difference = count &- (oldest[edge] ?? 0)
      if difference > 0 && difference <= count { delta.append((edge, difference)) }
    }
    delta.sort { $0.edge < $1.edge }
    let total = delta.reduce(0) { $0 + $1.count }
    func quantile(_ q: Double) -> UInt64? {
      guard total > 0 else { return nil }
      let rank = max(1, UInt64((q * Double(total)).rounded(.up)))
      var seen: UInt64 = 0
      for bucket in delta {
        seen += bucket.count
        if seen >= rank { return bucket.edge }
      }
      return delta.last?.edge
    }
    return Quantiles(count: total, p50: quantile(0.5), p99: quantile(0.99))
  }
}

extension LatencyHistogram {
  /// Events per non-empty bucket, keyed by the bucket's upper edge in nanoseconds
  /// (from ``cumulativeCounts()``, whose edges are exact decimal seconds).
  func bucketCounts() -> [UInt64: UInt64] {
    var counts: [UInt64: UInt64] = [:]
    var previous: UInt64 = 0
    for (le, cumulative) in cumulativeCounts() {
      guard let edge = Self.nanoseconds(le) else { continue }
      counts[edge] = cumulative &- previous
      previous = cumulative
    }
    return counts
  }

  /// `"0.000123"` as 123000; nil for `+Inf`.
  static func nanoseconds(_ seconds: String) -> UInt64? {
    let parts = seconds.split(separator: ".", maxSplits: 1)
    guard let whole = parts.first.flatMap({ UInt64($0) }) else { return nil }
    var fraction = parts.count == 2 ? String(parts[1]) : ""
    fraction += String(repeating: "0", count: max(0, 9 - fraction.count))
    guard let part = UInt64(fraction.prefix(9)) else { return nil }
    return whole * 1_000_000_000 + part
  }
}
