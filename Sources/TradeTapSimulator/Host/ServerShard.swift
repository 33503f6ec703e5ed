import Foundation

/// The server a shard runs: one dialect or the other.
public enum DialectServer {
  case mt5(MT5TradeServer)
  case mt4(MT4TradeServer)
}

/// The accounts one host thread owns, with the lock that gives the plugin's query
/// functions a consistent view. The owning thread holds the lock while it changes
/// state and fires the hooks (as a real server holds its locks during hooks).
public final class ServerShard: @unchecked Sendable {
  public let index: Int
  public let server: DialectServer
  private let lock = NSLock()

  public init(index: Int, server: DialectServer) {
    self.index = index
    self.server = server
  }

  public func withLock<R>(_ body: () throws -> R) rethrows -> R {
    lock.lock()
    defer { lock.unlock() }
    return try body()
  }

  func setRecordsEvents(_ on: Bool) {
    switch server {
    case .mt5(let s): s.recordsEvents = on
    case .mt4(let s): s.recordsEvents = on
    }
  }

  var logins: [UInt64] {
    switch server {
    case .mt5(let s): s.logins
    case .mt4(let s): s.logins
    }
  }

  func account(_ login: UInt64) -> Account? {
    switch server {
    case .mt5(let s): s.accounts[login]
    case .mt4(let s): s.accounts[login]
    }
  }
}

extension ServerShard {
  /// Hands every pending hook call to `body`, oldest first, and forgets them.
  func drainEvents(_ body: (ServerEvent) -> Void) -> Int {
    switch server {
    case .mt5(let s):
      let count = s.events.count
      for event in s.events { body(event) }
      s.events.removeAll(keepingCapacity: true)
      return count
    case .mt4(let s):
      let count = s.events.count
      for event in s.events { body(event) }
      s.events.removeAll(keepingCapacity: true)
      return count
    }
  }
}
