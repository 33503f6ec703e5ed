import Logging
import Synchronization
import TradeTapLedger

/// The gateway cross-check on a schedule (docs/reconciliation.md, "Gateway against
/// server"): every `--gateway-match-every`, ``LedgerStore/crossCheckGateways(grace:)``
/// matches every gateway's fills with the servers' deals in the ledger, appends new
/// mismatches (and resolutions) to `reconciliation_divergences`, and sets
/// `tradetap_gateway_mismatches{kind}` to the mismatches standing now. Reports only:
/// nothing is corrected. Runs from the collector's start until its shutdown, before
/// the ledger closes.
final class GatewayCrossChecker: Sendable {
  private let loop = Mutex<Task<Void, Never>?>(nil)

  /// - Parameters:
  ///   - interval: `--gateway-match-every`; nil: off.
  ///   - grace: `--gateway-match-grace`: fills and deals received less than this ago wait.
  init(interval: Duration?, grace: Duration, ledger: any LedgerStore, metrics: ReconciliationMetrics, logger: Logger) {
    guard let interval else { return }
    loop.withLock {
      $0 = Task {
        while !Task.isCancelled {
          do { try await Task.sleep(for: interval) } catch { return }
          do {
            let check = try await ledger.crossCheckGateways(grace: grace)
            for (kind, count) in check.counts { metrics.setGatewayMismatches(kind: kind, count) }
            if check.recorded > 0 || !check.resolved.isEmpty {
              logger.warning("gateway cross-check: fills and deals disagree", metadata: [
                "tradetap.mismatches_new": "\(check.recorded)", "tradetap.mismatches_resolved": "\(check.resolved.count)",
                "tradetap.mismatches_standing": "\(check.mismatches.count)",
                "tradetap.fills_compared": "\(check.fillsCompared)",
              ])
            }
          } catch {
            if Task.isCancelled { return }
            logger.info("gateway cross-check failed; the next run retries", metadata: ["tradetap.error": "\(error)"])
          }
        }
      }
    }
  }

  /// Cancels the schedule and waits for a run in progress.
  func stop() async {
    let task = loop.withLock { task -> Task<Void, Never>? in
      defer { task = nil }
      return task
    }
    task?.cancel()
    await task?.value
  }
}
