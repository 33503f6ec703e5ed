import TradeTapLedger

/// Reconciliation counters exposed at `GET /metrics` (docs/reconciliation.md,
/// docs/collector.md "Metrics"), on the collector's registry.
public final class ReconciliationMetrics: Sendable {
  /// Divergences found since start. Each is corrected in the transaction that records
  /// it (a correction entry), so this also counts the corrections written.
  public let divergences: CountMetric
  /// Sweeps completed, and sweeps abandoned (snapshot failed, peer gone, ledger error).
  public let sweeps: CountMetric
  public let sweepsFailed: CountMetric
  /// Platform records compared since start.
  public let recordsCompared: CountMetric
  /// Duration of the last completed sweep, request to commit, in microseconds
  /// (exported in seconds).
  public let lastSweepMicroseconds: LevelMetric
  /// Sweeps held over their deletion limit since start (docs/reconciliation.md, "Held sweeps").
  public let sweepsHeld: CountMetric
  private let catalog: MetricsCatalog

  /// Held sweeps of `serverId` waiting for an operator now (0 or 1: a newer sweep
  /// supersedes an older held one): `tradetap_reconciliation_held_sweeps{server_id}`.
  func setHeldSweeps(serverId: UInt32, _ count: Int) {
    catalog.meter(
      "tradetap_reconciliation_held_sweeps",
      "Reconciliation sweeps held over --reconcile-max-deletions, waiting for POST /v1/reconciliation/sweeps/{id}/apply.",
      labels: [("server_id", "\(serverId)")]
    ).set(Double(count))
  }

  /// Gateway fills and deals that disagree now, by kind (docs/reconciliation.md,
  /// "Gateway against server"): `tradetap_gateway_mismatches{kind}`.
  func setGatewayMismatches(kind: GatewayMismatchKind, _ count: Int) {
    catalog.meter(
      "tradetap_gateway_mismatches",
      "Gateway fills and server deals that disagree at the last cross-check (fill without deal, deal without fill, ...).",
      labels: [("kind", kind.rawValue.split(separator: " ").joined(separator: "_"))]
    ).set(Double(count))
  }

  init(catalog: MetricsCatalog) {
    self.catalog = catalog
    sweepsHeld = CountMetric(catalog.counter(
      "tradetap_reconciliation_sweeps_held_total",
      "Reconciliation sweeps that would have deleted or zeroed more than --reconcile-max-deletions: held, not applied."))
    divergences = CountMetric(catalog.counter(
      "tradetap_reconciliation_divergences_total",
      "Ledger/platform divergences found; each is corrected by a correction entry in the same transaction."))
    sweeps = CountMetric(catalog.counter("tradetap_reconciliation_sweeps_total", "Reconciliation sweeps completed."))
    sweepsFailed = CountMetric(catalog.counter(
      "tradetap_reconciliation_sweeps_failed_total", "Reconciliation sweeps abandoned."))
    recordsCompared = CountMetric(catalog.counter(
      "tradetap_reconciliation_records_compared_total", "Platform snapshot records compared with the ledger."))
    lastSweepMicroseconds = LevelMetric(
      catalog.meter("tradetap_reconciliation_last_sweep_seconds", "Duration of the last completed sweep."),
      scale: 1e-6)
  }
}
