import Prometheus
import TradeTapLedger

/// Per-server gauges that alert rules need and counters cannot give (docs/console.md,
/// docs/prometheus/alerts.yml), set from the ledger and the live connections just
/// before each `/metrics` answer:
/// - `tradetap_server_connected{server_id}`: 1 while the server has an open, authenticated
///   connection to this collector, else 0 (the console's red);
/// - `tradetap_server_open_gaps{server_id}`: gaps not healed yet (`gaps.healed_utc IS NULL`);
/// - `tradetap_server_held_sweeps{server_id}`: reconciliation sweeps held for an operator.
///
/// Cost: one read of the servers view (the same as `GET /v1/servers`) per scrape.
struct LedgerStateGauges: Sendable {
  let registry: PrometheusCollectorRegistry

  func refresh(servers rows: [LedgerRecord], lags: [UInt32: Double?]) {
    for row in rows {
      guard let id = row.integer("server_id").flatMap({ UInt32(exactly: $0) }) else { continue }
      let labels = [("server_id", "\(id)")]
      let connected = ConsoleStatus.connection(row, lags[id]) == "connected"
      gauge("tradetap_server_connected", "1 while the trade server has an open connection to this collector, else 0.", labels)
        .set(connected ? 1.0 : 0.0)
      gauge("tradetap_server_open_gaps", "Gaps of the trade server not healed yet (in the ledger).", labels)
        .set(Double(row.integer("open_gaps") ?? 0))
      gauge(
        "tradetap_server_held_sweeps",
        "Reconciliation sweeps of the trade server held for an operator (in the ledger; POST /v1/reconciliation/sweeps/{id}/apply).",
        labels
      ).set(Double(row.integer("held_sweeps") ?? 0))
    }
  }

  private func gauge(_ name: String, _ help: String, _ labels: [(String, String)]) -> Gauge {
    registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
  }
}
