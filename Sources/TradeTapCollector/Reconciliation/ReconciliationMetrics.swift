import Synchronization

/// Reconciliation counters exposed at `GET /metrics` (docs/reconciliation.md).
public final class ReconciliationMetrics: Sendable {
  /// Divergences found (and corrected) since start.
  public let divergences = Atomic<Int>(0)
  /// Sweeps completed, and sweeps abandoned (snapshot failed, peer gone, ledger error).
  public let sweeps = Atomic<Int>(0)
  public let sweepsFailed = Atomic<Int>(0)
  /// Platform records compared since start.
  public let recordsCompared = Atomic<Int>(0)
  /// Duration of the last completed sweep, request to commit, in microseconds.
  public let lastSweepMicroseconds = Atomic<Int>(0)

  public init() {}

  func prometheusText() -> String {
    var out = ""
    func metric(_ name: String, _ help: String, _ value: String, type: String = "counter") {
      out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
    }
    metric("tradetap_reconciliation_divergences_total", "Ledger/platform divergences found and corrected.",
           "\(divergences.load(ordering: .relaxed))")
    metric("tradetap_reconciliation_sweeps_total", "Reconciliation sweeps completed.", "\(sweeps.load(ordering: .relaxed))")
    metric("tradetap_reconciliation_sweeps_failed_total", "Reconciliation sweeps abandoned.",
           "\(sweepsFailed.load(ordering: .relaxed))")
    metric("tradetap_reconciliation_records_compared_total", "Platform snapshot records compared with the ledger.",
           "\(recordsCompared.load(ordering: .relaxed))")
    let micros = Double(lastSweepMicroseconds.load(ordering: .relaxed))
    metric("tradetap_reconciliation_last_sweep_seconds", "Duration of the last completed sweep.",
           "\(micros / 1_000_000)", type: "gauge")
    return out
  }
}
