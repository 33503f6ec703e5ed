import Synchronization

/// Counters the collector exposes at `GET /metrics` (Prometheus text format).
public final class CollectorMetrics: Sendable {
  /// Events received in event batches (duplicates included).
  public let eventsReceived = Atomic<Int>(0)
  /// Events newly committed to the ledger.
  public let eventsCommitted = Atomic<Int>(0)
  /// Events received again after they were already durable (not re-applied).
  public let eventsDuplicate = Atomic<Int>(0)
  /// Events stored in `quarantine`.
  public let eventsQuarantined = Atomic<Int>(0)
  /// Gap rows recorded (gap events, gap notices, missing sequences).
  public let gapsRecorded = Atomic<Int>(0)
  /// Ack frames sent, and the events they newly acknowledged.
  public let acksSent = Atomic<Int>(0)
  public let eventsAcked = Atomic<Int>(0)
  /// Ledger transactions committed, and the batches they held.
  public let commits = Atomic<Int>(0)
  public let batchesCommitted = Atomic<Int>(0)
  /// Connections open now, and refused so far (any error frame).
  public let connectionsOpen = Atomic<Int>(0)
  public let connectionsRefused = Atomic<Int>(0)
  private let lastSequence = Mutex<[UInt32: UInt64]>([:])
  /// Hook → decoded and hook → durable latency (`tradetap_hook_to_*_seconds`).
  public let deliveryLatency = DeliveryLatency()
  /// Reconciliation sweeps and divergences (`tradetap_reconciliation_*`).
  public let reconciliation = ReconciliationMetrics()

  public init() {}

  /// Records a server's durable sequence after a commit.
  public func recordDurable(serverId: UInt32, sequence: UInt64) {
    lastSequence.withLock { $0[serverId] = max($0[serverId] ?? 0, sequence) }
  }

  /// The durable sequence of each server seen since start.
  public var durableSequences: [UInt32: UInt64] { lastSequence.withLock { $0 } }

  /// The Prometheus text exposition of every metric.
  public func prometheusText() -> String {
    var out = ""
    func counter(_ name: String, _ help: String, _ value: Int, type: String = "counter") {
      out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
    }
    counter("tradetap_events_received_total", "Events received in event batches.", eventsReceived.load(ordering: .relaxed))
    counter("tradetap_events_committed_total", "Events newly committed to the ledger.", eventsCommitted.load(ordering: .relaxed))
    counter("tradetap_events_duplicate_total", "Events already durable, acknowledged without re-applying.", eventsDuplicate.load(ordering: .relaxed))
    counter("tradetap_events_quarantined_total", "Events stored in quarantine.", eventsQuarantined.load(ordering: .relaxed))
    counter("tradetap_gaps_total", "Gap rows recorded.", gapsRecorded.load(ordering: .relaxed))
    counter("tradetap_events_acked_total", "Sequence numbers newly acknowledged to plugins.", eventsAcked.load(ordering: .relaxed))
    counter("tradetap_acks_sent_total", "Cumulative acknowledgements sent.", acksSent.load(ordering: .relaxed))
    counter("tradetap_ledger_commits_total", "Ledger transactions committed.", commits.load(ordering: .relaxed))
    counter("tradetap_ledger_batches_committed_total", "Event batches committed (group commit).", batchesCommitted.load(ordering: .relaxed))
    counter("tradetap_connections_open", "Plugin connections open now.", connectionsOpen.load(ordering: .relaxed), type: "gauge")
    counter("tradetap_connections_refused_total", "Connections closed with an error frame.", connectionsRefused.load(ordering: .relaxed))
    out += "# HELP tradetap_server_last_seq Highest durable sequence number per trade server.\n"
    out += "# TYPE tradetap_server_last_seq gauge\n"
    for (server, seq) in durableSequences.sorted(by: { $0.key < $1.key }) {
      out += "tradetap_server_last_seq{server_id=\"\(server)\"} \(seq)\n"
    }
    out += deliveryLatency.prometheusText()
    out += reconciliation.prometheusText()
    return out
  }
}

extension Atomic where Value == Int {
  func add(_ amount: Int) { _ = wrappingAdd(amount, ordering: .relaxed) }
}
