import CoreMetrics
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
/// Each stage is kept twice (docs/collector.md, "Metrics"):
/// - a Prometheus histogram (`tradetap_hook_to_{decoded,durable}_seconds`, swift-metrics
///   `Timer` on the collector's registry) with fixed buckets from 10 µs to 30 s, for
///   dashboards and `histogram_quantile` over a window;
/// - the in-process log-linear ``LatencyHistogram`` (at most 3.1 % wide buckets), for
///   exact-enough percentiles: exported as cumulative counts per non-empty bucket
///   (`tradetap_hook_latency_seconds_bucket{stage,le}`, a counter family), from which
///   `tradetap demo` and the pipeline bench compute p50…p99.9 (and per-run deltas).
///
/// Cost on the decode path: one `clock_gettime` per batch; per event one relaxed
/// atomic add and one short lock (the Prometheus histogram's).
public final class DeliveryLatency: Sendable {
  /// Hook → decoded at the collector.
  public let decoded = LatencyHistogram()
  /// Hook → committed in the ledger.
  public let durable = LatencyHistogram()
  /// Hook → committed in the ledger, per server: created on a server's first
  /// committed batch, at most ``serverLimit`` of them (a server beyond it is only in
  /// ``durable``).
  private let durableByServer = Mutex<[UInt32: LatencyHistogram]>([:])
  /// At most this many per-server histograms (the collector passes the number of
  /// configured secrets: no other server can connect).
  let serverLimit: Int
  private let decodedTimer: CoreMetrics.Timer
  private let durableTimer: CoreMetrics.Timer
  private let catalog: MetricsCatalog
  /// The count last exported per "stage le".
  private let exportedFine = Mutex<[String: UInt64]>([:])

  /// Prometheus buckets: 1-2.5-5 steps from 10 µs (a decode on an idle loop) to 30 s
  /// (a collector far behind after a reconnect).
  static let buckets: [Duration] = [
    .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
    .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10),
    .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
    .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10), .seconds(30),
  ]
  static let fineName = "tradetap_hook_latency_seconds_bucket"

  init(catalog: MetricsCatalog, serverLimit: Int = 256) {
    self.catalog = catalog
    self.serverLimit = serverLimit
    decodedTimer = catalog.timer(
      "tradetap_hook_to_decoded_seconds", "Hook (trade server, monotonic clock) to decoded at the collector.",
      buckets: Self.buckets)
    durableTimer = catalog.timer(
      "tradetap_hook_to_durable_seconds", "Hook (trade server, monotonic clock) to committed in the ledger.",
      buckets: Self.buckets)
  }

  /// Records the events of a batch as decoded now.
  public func recordDecoded(_ events: [Event]) {
    let now = Self.monotonicNanoseconds()
    decoded.record(events, now: now)
    Self.record(events, now: now, into: decodedTimer)
  }

  /// Records the events of the batches of a transaction that has just committed.
  public func recordDurable(_ batches: [LedgerBatch]) {
    let now = Self.monotonicNanoseconds()
    // One short lock per commit: a dictionary lookup per batch (a histogram created
    // on a server's first batch).
    let perServer = durableByServer.withLock { all in
      batches.map { batch -> LatencyHistogram? in
        if let histogram = all[batch.serverId] { return histogram }
        guard all.count < serverLimit else { return nil }
        let histogram = LatencyHistogram()
        all[batch.serverId] = histogram
        return histogram
      }
    }
    for (batch, server) in zip(batches, perServer) {
      durable.record(batch.events, now: now)
      server?.record(batch.events, now: now)
      Self.record(batch.events, now: now, into: durableTimer)
    }
  }

  /// Each server's hook → durable histogram (servers with a committed batch since start).
  public var durableByServerId: [UInt32: LatencyHistogram] { durableByServer.withLock { $0 } }

  private static func record(_ events: [Event], now: UInt64, into timer: CoreMetrics.Timer) {
    for event in events {
      let hook = event.hookTimestampNanos
      guard hook != 0 else { continue }
      timer.recordNanoseconds(Int64(clamping: now > hook ? now - hook : 0))
    }
  }

  /// Brings the fine-bucket counters up to the histograms' counts now (before an
  /// export). Counters, so that the exposition keeps integer counts: each is advanced by
  /// what its bucket gained since the last export (cumulative counts only grow).
  func refreshFineBuckets() {
    exportedFine.withLock { exported in
      for (stage, histogram) in [("decoded", decoded), ("durable", durable)] {
        for (le, cumulative) in histogram.cumulativeCounts() {
          let key = stage + " " + le
          let gained = cumulative &- (exported[key] ?? 0)
          guard gained > 0 || exported[key] == nil else { continue }
          exported[key] = cumulative
          catalog.counter(
            Self.fineName,
            "Events whose hook-to-stage latency is at most le since start: cumulative counts of the "
              + "log-linear in-process histogram (non-empty buckets only, then +Inf).",
            labels: [("stage", stage), ("le", le)]
          ).increment(by: Int64(clamping: gained))
        }
      }
    }
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

  /// Cumulative counts at the upper edge (seconds, as text) of each non-empty bucket, then "+Inf".
  func cumulativeCounts() -> [(le: String, count: UInt64)] {
    var out: [(le: String, count: UInt64)] = []
    var cumulative: UInt64 = 0
    for (i, c) in snapshot().enumerated() where c > 0 {
      cumulative += c
      out.append((Self.seconds(Self.upperEdge(i)), cumulative))
    }
    out.append(("+Inf", cumulative))
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
