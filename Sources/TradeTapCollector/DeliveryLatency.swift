import Glibc
import Synchronization
import TradeTapEvents
import TradeTapLedger

/// How long events take from the trade server's hook to the collector: decoded
/// (the connection handler has the batch) and durable (the ledger transaction that
/// holds them has committed).
///
/// Both ends read CLOCK_MONOTONIC of the same machine: the hook's cycle counter is
/// converted to it by the journal reader (`Event.hookTimestampNanos`). Across
/// machines the figures mean nothing; events without a timestamp (0) are skipped.
///
/// Cost on the decode path: one `clock_gettime` per batch, one relaxed atomic add
/// per event, two per batch. No lock.
public final class DeliveryLatency: Sendable {
  /// Hook → decoded at the collector.
  public let decoded = LatencyHistogram()
  /// Hook → committed in the ledger.
  public let durable = LatencyHistogram()

  public init() {}

  /// Records the events of a batch as decoded now.
  public func recordDecoded(_ events: [Event]) {
    decoded.record(events, now: Self.monotonicNanoseconds())
  }

  /// Records the events of the batches of a transaction that has just committed.
  public func recordDurable(_ batches: [LedgerBatch]) {
    let now = Self.monotonicNanoseconds()
    for batch in batches { durable.record(batch.events, now: now) }
  }

  /// The Prometheus text of both: a summary each (the names the demo reads) and one
  /// cumulative histogram with a `stage` label, for per-run deltas by a scraper.
  public func prometheusText() -> String {
    var out = decoded.summaryText(
      name: "tradetap_hook_to_decoded_seconds",
      help: "Hook (trade server, monotonic clock) to decoded at the collector.")
    out += durable.summaryText(
      name: "tradetap_hook_to_durable_seconds",
      help: "Hook (trade server, monotonic clock) to committed in the ledger.")
    out += "# HELP tradetap_hook_latency_seconds Hook to decoded / durable, cumulative buckets (only those that changed).\n"
    out += "# TYPE tradetap_hook_latency_seconds histogram\n"
    out += decoded.bucketText(name: "tradetap_hook_latency_seconds", stage: "decoded")
    out += durable.bucketText(name: "tradetap_hook_latency_seconds", stage: "durable")
    return out
  }

  static func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
  }
}

/// A fixed log-linear histogram of nanosecond values: exact below 32 ns, then 32
/// buckets per power of two (each at most 1/32 ≈ 3.1 % wide) up to 2^42 ns
/// (73 minutes; larger values land in the last bucket). Counters are relaxed
/// atomics, so any number of threads record at once; a reader sees each counter
/// exactly, the set of them as of slightly different instants.
public final class LatencyHistogram: @unchecked Sendable {
  static let subBucketBits = 5
  static let subBuckets = 1 << subBucketBits
  static let maxValue: UInt64 = (1 << 42) - 1
  static let bucketCount = (42 - subBucketBits + 1) * subBuckets

  private let buckets: UnsafeMutablePointer<Atomic<UInt64>>
  private let total = Atomic<UInt64>(0)
  private let sumNanoseconds = Atomic<UInt64>(0)

  public init() {
    buckets = .allocate(capacity: Self.bucketCount)
    for i in 0..<Self.bucketCount { (buckets + i).initialize(to: Atomic(0)) }
  }

  deinit {
    buckets.deinitialize(count: Self.bucketCount)
    buckets.deallocate()
  }

  /// Records `now − hookTimestampNanos` of each event with a timestamp (a hook
  /// stamp after `now`, which only clock conversion error can give, counts as 0).
  public func record(_ events: [Event], now: UInt64) {
    var count: UInt64 = 0
    var sum: UInt64 = 0
    for event in events {
      let hook = event.hookTimestampNanos
      guard hook != 0 else { continue }
      let value = now > hook ? now - hook : 0
      buckets[Self.index(value)].wrappingAdd(1, ordering: .relaxed)
      count &+= 1
      sum &+= value
    }
    guard count > 0 else { return }
    total.wrappingAdd(count, ordering: .relaxed)
    sumNanoseconds.wrappingAdd(sum, ordering: .relaxed)
  }

  /// Records one value (nanoseconds).
  public func record(nanoseconds: UInt64) {
    buckets[Self.index(nanoseconds)].wrappingAdd(1, ordering: .relaxed)
    total.wrappingAdd(1, ordering: .relaxed)
    sumNanoseconds.wrappingAdd(nanoseconds, ordering: .relaxed)
  }

  /// Values recorded so far.
  public var count: UInt64 { total.load(ordering: .relaxed) }

  /// The value at quantile `q` (0...1), as the upper edge of its bucket (at most
  /// 3.1 % high), in nanoseconds; nil when nothing was recorded.
  public func quantile(_ q: Double) -> UInt64? {
    quantiles([q], counts: snapshot()).first ?? nil
  }

  static func index(_ value: UInt64) -> Int {
    let v = min(value, maxValue)
    if v < UInt64(subBuckets) { return Int(v) }
    let exponent = 63 - v.leadingZeroBitCount  // ≥ subBucketBits
    let shift = exponent - subBucketBits
    return (exponent - subBucketBits + 1) * subBuckets + Int((v >> UInt64(shift)) & UInt64(subBuckets - 1))
  }

  /// The largest value that lands in bucket `index`.
  static func upperEdge(_ index: Int) -> UInt64 {
    if index < subBuckets { return UInt64(index) }
    let exponent = index / subBuckets + subBucketBits - 1
    let sub = UInt64(index % subBuckets)
    let shift = UInt64(exponent - subBucketBits)
    return ((UInt64(subBuckets) + sub + 1) << shift) - 1
  }

  private func snapshot() -> [UInt64] {
    (0..<Self.bucketCount).map { buckets[$0].load(ordering: .relaxed) }
  }

  private func quantiles(_ qs: [Double], counts: [UInt64]) -> [UInt64?] {
    let n = counts.reduce(0, &+)
    guard n > 0 else { return qs.map { _ in nil } }
    return qs.map { q in
      let rank = max(1, UInt64((q * Double(n)).rounded(.up)))
      var seen: UInt64 = 0
      for (i, c) in counts.enumerated() where c > 0 {
        seen += c
        if seen >= rank { return Self.upperEdge(i) }
      }
      return Self.upperEdge(Self.bucketCount - 1)
    }
  }

  static let reportedQuantiles: [(label: String, q: Double)] = [("0.5", 0.5), ("0.9", 0.9), ("0.99", 0.99), ("0.999", 0.999)]

  func summaryText(name: String, help: String) -> String {
    let counts = snapshot()
    var out = "# HELP \(name) \(help)\n# TYPE \(name) summary\n"
    let values = quantiles(Self.reportedQuantiles.map(\.q), counts: counts)
    for (quantile, value) in zip(Self.reportedQuantiles, values) {
      guard let value else { continue }  // nothing recorded yet: no quantile lines
      out += "\(name){quantile=\"\(quantile.label)\"} \(Self.seconds(value))\n"
    }
    out += "\(name)_sum \(Self.seconds(sumNanoseconds.load(ordering: .relaxed)))\n"
    out += "\(name)_count \(count)\n"
    return out
  }

  func bucketText(name: String, stage: String) -> String {
    var out = ""
    var cumulative: UInt64 = 0
    for (i, c) in snapshot().enumerated() where c > 0 {
      cumulative += c
      out += "\(name)_bucket{stage=\"\(stage)\",le=\"\(Self.seconds(Self.upperEdge(i)))\"} \(cumulative)\n"
    }
    out += "\(name)_bucket{stage=\"\(stage)\",le=\"+Inf\"} \(cumulative)\n"
    return out
  }

  /// Nanoseconds as seconds with nanosecond precision, without floating-point noise.
  static func seconds(_ nanoseconds: UInt64) -> String {
    let whole = nanoseconds / 1_000_000_000
    var fraction = String(nanoseconds % 1_000_000_000)
    fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
  }
}
