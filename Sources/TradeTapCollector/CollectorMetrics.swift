import CoreMetrics
import Prometheus
import Synchronization
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// The collector's metrics, exposed at `GET /metrics` in the Prometheus text format
/// (every series: docs/collector.md, "Metrics").
///
/// Instruments are swift-metrics types on one `PrometheusCollectorRegistry` per
/// collector (``registry``): several collectors in one process never share counts,
/// and nothing depends on a bootstrapped `MetricsSystem`.
public final class CollectorMetrics: Sendable {
  /// Where every series of this collector lives; `prometheusText()` exports it.
  public let registry = PrometheusCollectorRegistry()
  private let catalog: MetricsCatalog

  /// Events received in event batches (duplicates included).
  public let eventsReceived: CountMetric
  /// Events newly committed to the ledger.
  public let eventsCommitted: CountMetric
  /// Events received again after they were already durable or on their way (not re-applied).
  public let eventsDuplicate: CountMetric
  /// Events stored in `quarantine`.
  public let eventsQuarantined: CountMetric
  /// Gap rows recorded (gap events, gap notices, missing sequences).
  public let gapsRecorded: CountMetric
  /// Sequence numbers a server's durable sequence moved past without an event.
  public let gapSequences: CountMetric
  /// Ack frames sent, and the sequence numbers they newly acknowledged.
  public let acksSent: CountMetric
  public let eventsAcked: CountMetric
  /// Ledger transactions committed, and the submissions (batches, gap notices) they held.
  public let commits: CountMetric
  public let batchesCommitted: CountMetric
  /// Plugin connections open now, and connections refused so far (any reason).
  public let connectionsOpen: LevelMetric
  public let connectionsRefused: CountMetric
  /// Hook → decoded and hook → durable latency (`tradetap_hook_to_*_seconds`).
  public let deliveryLatency: DeliveryLatency
  /// Reconciliation sweeps and divergences (`tradetap_reconciliation_*`).
  public let reconciliation: ReconciliationMetrics

  private let lastSequence = Mutex<[UInt32: UInt64]>([:])
  private let lag = ServerLag()
  private let perServer = Mutex<[UInt32: (received: CoreMetrics.Counter, committed: CoreMetrics.Counter)]>([:])

  /// `serverLimit`: at most this many servers get their own hook → durable histogram
  /// (``DeliveryLatency/durableByServerId``); the collector passes its number of secrets.
  public init(serverLimit: Int = 256) {
    let catalog = MetricsCatalog(registry: registry)
    self.catalog = catalog
    func count(_ name: String, _ help: String) -> CountMetric { CountMetric(catalog.counter(name, help)) }
    eventsReceived = count("tradetap_events_received_total", "Events received in event batches (duplicates included).")
    eventsCommitted = count("tradetap_events_committed_total", "Events newly committed to the ledger.")
    eventsDuplicate = count(
      "tradetap_events_duplicate_total", "Events already durable or in flight, acknowledged without re-applying.")
    eventsQuarantined = count("tradetap_events_quarantined_total", "Events stored in quarantine.")
    gapsRecorded = count("tradetap_gaps_total", "Gap rows recorded in the ledger.")
    gapSequences = count(
      "tradetap_gap_sequences_total", "Sequence numbers the durable sequence moved past without an event.")
    eventsAcked = count("tradetap_events_acked_total", "Sequence numbers newly acknowledged to plugins.")
    acksSent = count("tradetap_acks_sent_total", "Cumulative acknowledgements sent.")
    commits = count("tradetap_ledger_commits_total", "Ledger transactions committed.")
    batchesCommitted = count(
      "tradetap_ledger_batches_committed_total", "Submissions (event batches, gap notices) committed (group commit).")
    connectionsOpen = LevelMetric(catalog.meter("tradetap_connections_open", "Plugin connections open now."))
    connectionsRefused = count("tradetap_connections_refused_total", "Plugin connections closed by the collector on an error.")
    deliveryLatency = DeliveryLatency(catalog: catalog, serverLimit: serverLimit)
    reconciliation = ReconciliationMetrics(catalog: catalog)
  }

  // MARK: - Recording (connection handlers, the ledger writer)

  /// A connection of `serverId` finished its handshake; the ledger holds it through `durable`.
  public func recordConnected(serverId: UInt32, durable: UInt64) {
    recordDurable(serverId: serverId, sequence: durable)
    lag.connected(serverId: serverId, durable: durable)
  }

  /// A connection of `serverId` that had finished its handshake closed.
  public func recordDisconnected(serverId: UInt32) {
    lag.disconnected(serverId: serverId)
  }

  /// A batch of `events` of `serverId` arrived (before deduplication).
  public func recordReceived(serverId: UInt32, events: Int) {
    eventsReceived.add(events)
    counters(serverId).received.increment(by: events)
  }

  /// New events of `serverId` were decoded and are being submitted to the ledger.
  public func recordDecoded(serverId: UInt32, events: [Event]) {
    guard let last = events.last else { return }
    deliveryLatency.recordDecoded(events)
    lag.decoded(serverId: serverId, lastSequence: last.sequence, now: DeliveryLatency.monotonicNanoseconds())
  }

  /// A ledger transaction holding `submissions` submissions (`batches` their event
  /// batches) committed with `result`.
  public func recordCommit(_ batches: [LedgerBatch], submissions: Int, result: LedgerCommit) {
    commits.add(1)
    batchesCommitted.add(submissions)
    deliveryLatency.recordDurable(batches)
    eventsCommitted.add(result.appliedEvents)
    eventsDuplicate.add(result.duplicateEvents)
    eventsQuarantined.add(result.quarantinedEvents)
    gapsRecorded.add(result.gapsRecorded)
    let before = durableSequences
    let applied = CommitAccounting.appliedPerServer(batches, before: before, result: result)
    for (server, count) in applied { counters(server).committed.increment(by: count) }
    for (server, sequence) in result.durableSequence {
      let previous = before[server] ?? 0
      if previous > 0, sequence > previous {
        gapSequences.add(Int(clamping: sequence - previous) - (applied[server] ?? 0))
      }
      recordDurable(serverId: server, sequence: sequence)
    }
  }

  /// A connection was refused: `code` is the error frame sent (nil: closed on a TLS or
  /// socket error, no frame); `beforeWelcome` when the handshake had not completed.
  public func recordRefusal(code: ErrorCode?, beforeWelcome: Bool) {
    recordRefusal(RefusalReason(code: code), beforeWelcome: beforeWelcome)
  }

  /// A connection was refused for `reason` (one of a fixed set: a peer can never add a series).
  public func recordRefusal(_ reason: RefusalReason, beforeWelcome: Bool) {
    connectionsRefused.add(1)
    let reason = reason.rawValue
    catalog.counter(
      "tradetap_connections_refused_by_reason_total", "Plugin connections refused, by reason (the error frame's code).",
      labels: [("reason", reason)]
    ).increment()
    if beforeWelcome {
      catalog.counter(
        "tradetap_handshake_refusals_total", "Handshakes refused before the welcome, by reason (the error frame's code).",
        labels: [("reason", reason)]
      ).increment()
    }
  }

  /// Records a server's durable sequence after a commit.
  public func recordDurable(serverId: UInt32, sequence: UInt64) {
    lastSequence.withLock { $0[serverId] = max($0[serverId] ?? 0, sequence) }
    lag.durable(serverId: serverId, sequence: sequence)
  }

  // MARK: - Reading

  /// The durable sequence of each server seen since start.
  public var durableSequences: [UInt32: UInt64] { lastSequence.withLock { $0 } }

  /// Each server's lag in seconds (see ``ServerLag``): servers seen since start, `nil`
  /// for those with no open connection.
  public func lagSeconds() -> [UInt32: Double?] { lag.seconds(now: DeliveryLatency.monotonicNanoseconds()) }

  /// The Prometheus text exposition of every metric.
  /// The series of one output (docs/outputs.md), labelled by its name.
  func outputMeters(_ output: String) -> OutputMeters {
    let labels = [("output", output)]
    return OutputMeters(
      lagChanges: catalog.meter(
        "tradetap_output_lag_changes", "Committed changes the output has not delivered yet.", labels: labels),
      lagSeconds: catalog.meter(
        "tradetap_output_lag_seconds", "Age of the oldest committed change the output has not delivered (0: caught up).",
        labels: labels),
      delivered: catalog.counter("tradetap_output_delivered_total", "Changes the output's destination confirmed.", labels: labels),
      retries: catalog.counter("tradetap_output_retries_total", "Deliveries the output will try again.", labels: labels),
      deadLetters: catalog.counter(
        "tradetap_output_dead_letters_total", "Batches the destination refused for good (in output_dead_letters).",
        labels: labels))
  }

  public func prometheusText() -> String {
    refreshServerGauges()
    deliveryLatency.refreshFineBuckets()
    return registry.emitToString()
  }

  private func refreshServerGauges() {
    for (server, sequence) in durableSequences {
      catalog.meter(
        "tradetap_server_last_seq", "Highest durable sequence number per trade server.",
        labels: [("server_id", "\(server)")]
      ).set(Double(sequence))
    }
    let help = "Seconds since the collector decoded the oldest event of the server not yet durable (0: caught up)."
    for (server, seconds) in lagSeconds() {
      let labels = [("server_id", "\(server)")]
      if let seconds {
        catalog.meter("tradetap_server_lag_seconds", help, labels: labels).set(seconds)
      } else {
        // Not connected: lag unknown, so no sample (absent, not a misleading 0).
        let gauge = registry.makeGauge(
          descriptor: MetricNameDescriptor(metricName: "tradetap_server_lag_seconds", unitName: "", helpText: help),
          labels: labels)
        registry.unregisterGauge(gauge)
      }
    }
  }

  private func counters(_ serverId: UInt32) -> (received: CoreMetrics.Counter, committed: CoreMetrics.Counter) {
    if let known = perServer.withLock({ $0[serverId] }) { return known }
    let labels = [("server_id", "\(serverId)")]
    let made = (
      received: catalog.counter(
        "tradetap_server_events_received_total", "Events received per trade server (duplicates included).",
        labels: labels),
      committed: catalog.counter(
        "tradetap_server_events_committed_total", "Events newly committed to the ledger per trade server.",
        labels: labels)
    )
    return perServer.withLock { all in
      if let known = all[serverId] { return known }
      all[serverId] = made
      return made
    }
  }
}

/// The `reason` label of `tradetap_connections_refused_by_reason_total` and
/// `tradetap_handshake_refusals_total`: a fixed set, so no peer can add a series
/// (issue 10: 5,000 connections sending their own error codes made 10,002).
public enum RefusalReason: String, Sendable, CaseIterable {
  case wrongSecret = "wrong_secret"
  case replayedHandshake = "replayed_handshake"
  case versionMismatch = "version_mismatch"
  case badFrame = "bad_frame"
  case frameTooLarge = "frame_too_large"
  case protocolViolation = "protocol_violation"
  case serverBusy = "server_busy"
  case internalError = "internal_error"
  case alreadyConnected = "already_connected"
  /// The peer sent its own error frame (any code) and the collector closed.
  case peerError = "peer_error"
  /// A TLS or socket error: closed without a frame.
  case connectionError = "connection_error"
  /// A code the collector does not send (never expected; kept so the set stays closed).
  case other = "other"

  /// The reason of an error frame the collector sent (nil: none sent).
  public init(code: ErrorCode?) {
    guard let code else {
      self = .connectionError
      return
    }
    switch code {
    case .wrongSecret, .unknownServerId: self = .wrongSecret
    case .replayedHandshake: self = .replayedHandshake
    case .versionMismatch: self = .versionMismatch
    case .badFrame: self = .badFrame
    case .frameTooLarge: self = .frameTooLarge
    case .protocolViolation: self = .protocolViolation
    case .serverBusy: self = .serverBusy
    case .internalError: self = .internalError
    case .alreadyConnected: self = .alreadyConnected
    default: self = .other
    }
  }
}
