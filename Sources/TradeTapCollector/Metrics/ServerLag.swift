import Synchronization

/// How far each trade server's ledger is behind what the collector has received.
///
/// **Lag** of a connected server: seconds from the moment the collector decoded the
/// oldest event of that server that is not yet durable in the ledger, to now (the
/// collector's monotonic clock); 0 when every decoded event is durable. A server with
/// no open connection has no lag value (`nil`): its plugin may hold events in its
/// journal that the collector cannot see (the heartbeat carries no journal head).
///
/// The collector's clock, not the hook's: hook timestamps are only comparable on the
/// trade server's own machine (`DeliveryLatency`), a lag must hold across machines.
///
/// Cost: one short lock per submitted batch and per commit; a queue entry per batch.
final class ServerLag: Sendable {
  private struct Server {
    var connections = 0
    /// (last sequence of a submitted batch, when it was decoded), oldest first.
    var pending: [(sequence: UInt64, decodedAt: UInt64)] = []
    var head = 0  // index of the oldest live entry (amortised removal)

    mutating func drop(through sequence: UInt64) {
      while head < pending.count, pending[head].sequence <= sequence { head += 1 }
      if head == pending.count {
        pending.removeAll(keepingCapacity: true)
        head = 0
      } else if head >= 1024, head * 2 >= pending.count {
        pending.removeFirst(head)
        head = 0
      }
    }
  }

  private let servers = Mutex<[UInt32: Server]>([:])

  /// A connection of `serverId` completed its handshake; `durable` is its resume point.
  func connected(serverId: UInt32, durable: UInt64) {
    servers.withLock {
      $0[serverId, default: Server()].connections += 1
      $0[serverId]!.drop(through: durable)
    }
  }

  /// A connection of `serverId` that had completed its handshake closed.
  func disconnected(serverId: UInt32) {
    servers.withLock { all in
      if let count = all[serverId]?.connections { all[serverId]!.connections = max(0, count - 1) }
    }
  }

  /// A batch of `serverId` ending at `lastSequence` was decoded at `now` and submitted.
  func decoded(serverId: UInt32, lastSequence: UInt64, now: UInt64) {
    servers.withLock { $0[serverId, default: Server()].pending.append((lastSequence, now)) }
  }

  /// The ledger holds `serverId` durably through `sequence`.
  func durable(serverId: UInt32, sequence: UInt64) {
    servers.withLock { $0[serverId]?.drop(through: sequence) }
  }

  /// Lag in seconds of each server seen since start, `nil` for those not connected.
  func seconds(now: UInt64) -> [UInt32: Double?] {
    servers.withLock { all in
      all.mapValues { server -> Double? in
        guard server.connections > 0 else { return nil }
        guard server.head < server.pending.count else { return 0 }
        let since = server.pending[server.head].decodedAt
        return now > since ? Double(now - since) / 1e9 : 0
      }
    }
  }
}
