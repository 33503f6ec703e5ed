import NIOCore
import Synchronization

/// What another connection may read of a live one, from any thread.
final class ConnectionLiveness: Sendable {
  /// When the last frame arrived (`NIODeadline` uptime nanoseconds).
  let lastHeardNanoseconds = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)
  /// The collector stopped reading this connection to wait for the ledger (its
  /// read-ahead window is full): its silence is ours, not the peer's.
  let waitingForLedger = Atomic<Bool>(false)

  func heard(now: NIODeadline = .now()) { lastHeardNanoseconds.store(now.uptimeNanoseconds, ordering: .relaxed) }
}

/// The one authenticated connection of each server id (issue 10, finding 9).
///
/// Rule: a newly authenticated connection of a server id that already has one is
/// refused with `already connected`, unless the incumbent is proven gone: silent
/// (no frame) for two heartbeat intervals while the collector was reading it. A
/// live plugin sends a frame at least every interval (a batch or a heartbeat), so
/// two silent intervals mean a peer that is dead or cut off; the collector would
/// drop it at three anyway. Then the newcomer wins and the incumbent is closed with
/// `already connected`. Why not "the newest always wins": two trade servers
/// configured with the same id (a standby started beside the live one) would then
/// take turns, and their events, numbered alike, would be deduplicated against each
/// other in the ledger; refused, the second one is loud (its code, its log line)
/// and harmless. A plugin reconnecting after a network cut waits at most two
/// intervals (its own silence detection takes three, so in practice not at all).
final class LiveConnections: Sendable {
  struct Entry: Sendable {
    let connection: UInt64
    let channel: any Channel
    let liveness: ConnectionLiveness
  }

  enum Claim {
    /// The server id is this connection's now.
    case claimed
    /// The server id is this connection's now; close `incumbent`, proven gone.
    case replacing(incumbent: any Channel, silentFor: TimeAmount)
    /// Another connection holds the server id and is alive.
    case alreadyConnected(incumbent: any Channel)
  }

  private let entries = Mutex<[UInt32: Entry]>([:])

  /// Claims `serverId` for `entry.connection` (rule above; `staleAfter` is two heartbeat intervals).
  func claim(serverId: UInt32, _ entry: Entry, staleAfter: TimeAmount, now: NIODeadline = .now()) -> Claim {
    entries.withLock { all in
      guard let incumbent = all[serverId], incumbent.connection != entry.connection else {
        all[serverId] = entry
        return .claimed
      }
      let silent = Int64(clamping: now.uptimeNanoseconds &- incumbent.liveness.lastHeardNanoseconds.load(ordering: .relaxed))
      let gone = silent >= staleAfter.nanoseconds && !incumbent.liveness.waitingForLedger.load(ordering: .relaxed)
      guard gone || !incumbent.channel.isActive else { return .alreadyConnected(incumbent: incumbent.channel) }
      all[serverId] = entry
      return .replacing(incumbent: incumbent.channel, silentFor: .nanoseconds(silent))
    }
  }

  /// Gives `serverId` up if `connection` holds it; whether it did.
  @discardableResult
  func release(serverId: UInt32, connection: UInt64) -> Bool {
    entries.withLock { all in
      guard all[serverId]?.connection == connection else { return false }
      all[serverId] = nil
      return true
    }
  }

  /// Server ids with a live connection now.
  var count: Int { entries.withLock { $0.count } }
}
