import Foundation

/// What the demo shows each second: events the hooks received (from the
/// simulated server), events durable in the ledger (from the collector's
/// /metrics), their rates, the lag between them, and delivery latency.
final class DemoProgress {
  private let probe: CollectorProbe
  private let start = ContinuousClock.now
  private(set) var fired = 0
  private(set) var durable = 0
  private var lastDurable = 0
  private var lastSample = ContinuousClock.now
  private var durableRate = 0.0
  private var metrics: [String: Double] = [:]

  init(probe: CollectorProbe) { self.probe = probe }

  /// The last value read of one collector series (`name{labels}` as exposed).
  func metric(_ name: String) -> Double? { metrics[name] }

  /// Takes the simulator's progress lines ("sim: N events fired, ...") and a fresh metrics sample.
  /// Returns false when the collector's /metrics could not be read (the last sample stays).
  @discardableResult
  func observe(simLines: [String]) -> Bool {
    for line in simLines {
      if line.hasPrefix("sim: done: "), let n = Self.leadingInt(line.dropFirst("sim: done: ".count)) { fired = n }
      else if line.hasPrefix("sim: lingering "), let colon = line.lastIndex(of: ":"),
        let n = Self.leadingInt(line[line.index(after: colon)...].drop(while: { $0 == " " })) { fired = n }
      else if line.hasPrefix("sim: "), line.contains("events fired"), let n = Self.leadingInt(line.dropFirst(5)) { fired = n }
    }
    let sample = probe.read()
    guard !sample.isEmpty else { return false }
    metrics = sample
    durable = Int(sample["tradetap_events_committed_total"] ?? 0)
    let now = ContinuousClock.now
    let elapsed = Double((now - lastSample).components.attoseconds) / 1e18 + Double((now - lastSample).components.seconds)
    if elapsed >= 0.5 {
      durableRate = Double(durable - lastDurable) / elapsed
      lastDurable = durable
      lastSample = now
    }
    return true
  }

  func line() -> String {
    let seconds = Self.seconds(since: start)
    // The simulator reports its hooks once a second, the collector's count is read now:
    // every durable event was hooked, so the larger is the better (lower) bound.
    let hooks = max(fired, durable)
    return String(format: "demo: %5.1fs  hooks %8d  durable %8d  (%6.0f/s)  lag %6d%@%@",
                  seconds, hooks, durable, durableRate, hooks - durable, ledgerLagText, latencyText()) + outputLagText
  }

  /// The furthest-behind push output (`--webhook`, `--nats-cluster`), in changes.
  private var outputLagText: String {
    let lags = metrics.filter { $0.key.hasPrefix("tradetap_output_lag_changes{") }.values
    guard let worst = lags.max() else { return "" }
    return "  outputs lag \(Int(worst))"
  }

  func summary() -> String {
    var text = "events: \(fired) received by the hooks, \(durable) durable in the ledger"
    let quarantined = Int(metrics["tradetap_events_quarantined_total"] ?? 0)
    let gaps = Int(metrics["tradetap_gaps_total"] ?? 0)
    text += ", \(quarantined) quarantined, \(gaps) gaps"
    if let sweeps = metrics["tradetap_reconciliation_sweeps_total"] {
      let divergences = Int(metrics["tradetap_reconciliation_divergences_total"] ?? 0)
      text += "\nreconciliation: \(Int(sweeps)) sweep(s) against the server's own state, \(divergences) divergence(s) corrected"
    }
    text += "\nlatency hook → durable in the ledger:\(latencyText(all: true))"
    return text
  }

  /// Percentiles of hook → durable, from the collector's fine cumulative buckets
  /// (`tradetap_hook_latency_seconds_bucket{stage="durable",le=…}`, buckets at most
  /// 3.1 % wide; docs/collector.md, "Metrics"): the upper edge of the bucket that
  /// holds the rank.
  private func latencyText(all: Bool = false) -> String {
    let quantiles = all ? [0.5, 0.9, 0.99, 0.999] : [0.5, 0.99]
    let buckets = Self.fineBuckets(metrics, stage: "durable")
    guard let total = buckets.last?.count, total > 0 else { return all ? " not reported by this collector" : "" }
    var parts: [String] = []
    for q in quantiles {
      let rank = max(1, (q * total).rounded(.up))
      guard let bucket = buckets.first(where: { $0.count >= rank }), bucket.le.isFinite else { continue }
      parts.append("p\(Self.percentile(q)) \(Self.human(bucket.le))")
    }
    return "  " + parts.joined(separator: " ")
  }

  /// The cumulative (upper edge, count) pairs of one stage, in increasing order, +Inf last.
  static func fineBuckets(_ samples: [String: Double], stage: String) -> [(le: Double, count: Double)] {
    let prefix = "tradetap_hook_latency_seconds_bucket{stage=\"\(stage)\",le=\""
    return samples.compactMap { key, count -> (le: Double, count: Double)? in
      guard key.hasPrefix(prefix), key.hasSuffix("\"}") else { return nil }
      let le = key.dropFirst(prefix.count).dropLast(2)
      guard let edge = le == "+Inf" ? Double.infinity : Double(le) else { return nil }
      return (edge, count)
    }.sorted { $0.le < $1.le }
  }

  /// The largest lag the collector reports for a connected server (`tradetap_server_lag_seconds`).
  private var ledgerLagText: String {
    let lags = metrics.filter { $0.key.hasPrefix("tradetap_server_lag_seconds{") }.map(\.value)
    guard let worst = lags.max() else { return "" }
    return "  ledger lag \(Self.human(worst))"
  }

  private static func percentile(_ value: Double) -> String {
    let p = value * 100
    return p == p.rounded() ? String(Int(p)) : String(p)
  }

  private static func human(_ seconds: Double) -> String {
    if seconds == 0 { return "0" }
    if seconds < 1e-3 { return String(format: "%.0fµs", seconds * 1e6) }
    if seconds < 1 { return String(format: "%.1fms", seconds * 1e3) }
    return String(format: "%.2fs", seconds)
  }

  private static func leadingInt(_ text: Substring) -> Int? {
    Int(text.prefix(while: { $0.isNumber }))
  }

  private static func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
  }
}
