import Logging
import TradeTapLedger

/// A FIX drop copy session as an output (docs/fix.md): the output's cursor follows the
/// change feed; a batch is confirmed once its reports are numbered, stored and written
/// to the logged-on back office. While no back office is logged on, the batch waits
/// (the output's lag grows); FIX's own resend covers what a peer missed after that.
struct FIXOutput: OutputDestination {
  let session: FIXSession
  static let waitForLogon: Duration = .milliseconds(100)

  var kind: String { "fix" }
  var target: String { "\(session.settings.senderCompID)->\(session.settings.targetCompID)" }

  func deliver(_ batch: OutputBatch) async throws {
    while true {
      while !session.isLoggedOn { try await Task.sleep(for: Self.waitForLogon) }
      do {
        if try await session.deliver(firstChangeId: batch.firstChangeId, lastChangeId: batch.lastChangeId) { return }
      } catch {
        throw OutputFailure.retryable("FIX \(target): \(error)")
      }
    }
  }
}
