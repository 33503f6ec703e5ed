import Foundation
import TradeServerAPI

/// The host side of `ts_server_api`: C function pointers that find their plugin's
/// slot through `api->host` and answer from the server's shards. Query functions
/// lock every shard (in index order) so a walk sees one consistent state.
enum ServerAPITable {
  static func make(host info: UnsafeMutablePointer<ts_server_info>) -> ts_server_api {
    var api = ts_server_api()
    api.struct_size = UInt32(MemoryLayout<ts_server_api>.size)
    api.api_version = UInt32(TS_API_VERSION)
    api.info = UnsafePointer(info)
    api.log = { host, level, message in
      guard let slot = PluginSlot.from(host) else { return }
      let text = message.map { String(cString: $0) } ?? "(null)"
      slot.host.journal.write(source: slot.name, level: level, text)
    }
    api.time_msc = { host in
      PluginSlot.from(host)?.host.brokerTimeMsc() ?? 0
    }
    api.param_get = { host, name, value, size in
      guard let slot = PluginSlot.from(host), let name, let value, size > 0 else { return TS_ERR_INVALID_ARGUMENT }
      guard let found = slot.host.parameters[String(cString: name)] else { return TS_ERR_NOT_FOUND }
      let bytes = Array(found.utf8)
      guard bytes.count < Int(size) else { return TS_ERR_INVALID_ARGUMENT }
      if !bytes.isEmpty {
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(value).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
      }
      value[bytes.count] = 0
      return TS_OK
    }
    api.subscribe = { host, sink in
      guard let slot = PluginSlot.from(host), let sink else { return TS_ERR_INVALID_ARGUMENT }
      return slot.host.subscribe(owner: slot, sink: sink)
    }
    api.unsubscribe = { host, sink in
      guard let slot = PluginSlot.from(host), let sink else { return TS_ERR_INVALID_ARGUMENT }
      return slot.host.unsubscribe(owner: slot, sink: sink)
    }
    api.user_get = { host, login, out in
      guard let slot = PluginSlot.from(host), let out else { return TS_ERR_INVALID_ARGUMENT }
      for shard in slot.host.shards {
        if let account = shard.withLock({ shard.account(login) }) {
          out.pointee = account.cUser
          return TS_OK
        }
      }
      return TS_ERR_NOT_FOUND
    }
    api.users_enum = { host, visit, ctx in
      guard let slot = PluginSlot.from(host), let visit else { return TS_ERR_INVALID_ARGUMENT }
      slot.host.withEveryShardLocked { shards in
        for shard in shards {
          for login in shard.logins {
            guard var user = shard.account(login)?.cUser else { continue }
            if visit(ctx, &user) != 0 { return }
          }
        }
      }
      return TS_OK
    }
    api.positions_enum = { host, login, visit, ctx in
      guard let slot = PluginSlot.from(host), let visit else { return TS_ERR_INVALID_ARGUMENT }
      guard slot.host.platform == UInt32(TS_PLATFORM_MT5) else { return TS_ERR_NOT_FOUND }
      slot.host.withEveryShardLocked { shards in
        for shard in shards {
          guard case .mt5(let server) = shard.server else { continue }
          for owner in login == 0 ? server.logins : [login] {
            for ticket in server.positionsByLogin[owner] ?? [] {
              guard let position = server.positions[ticket] else { continue }
              var record = server.valued(position).cPosition
              if visit(ctx, &record) != 0 { return }
            }
          }
        }
      }
      return TS_OK
    }
    api.deals_enum = { host, from, to, visit, ctx in
      guard let slot = PluginSlot.from(host), let visit else { return TS_ERR_INVALID_ARGUMENT }
      guard slot.host.platform == UInt32(TS_PLATFORM_MT5) else { return TS_ERR_NOT_FOUND }
      slot.host.withEveryShardLocked { shards in
        for shard in shards {
          guard case .mt5(let server) = shard.server else { continue }
          for deal in server.deals where deal.timeMsc >= from && deal.timeMsc < to {
            var record = deal.cDeal
            if visit(ctx, &record) != 0 { return }
          }
        }
      }
      return TS_OK
    }
    api.trades_enum = { host, login, openOnly, visit, ctx in
      guard let slot = PluginSlot.from(host), let visit else { return TS_ERR_INVALID_ARGUMENT }
      guard slot.host.platform == UInt32(TS_PLATFORM_MT4) else { return TS_ERR_NOT_FOUND }
      slot.host.withEveryShardLocked { shards in
        for shard in shards {
          guard case .mt4(let server) = shard.server else { continue }
          for owner in login == 0 ? server.logins : [UInt64(login)] {
            let digits = server.accounts[owner]?.currencyDigits ?? 2
            for ticket in server.openByLogin[owner] ?? [] {
              guard let trade = server.openTrades[ticket] else { continue }
              var record = trade.cTrade(currencyDigits: digits)
              if visit(ctx, &record) != 0 { return }
            }
          }
          if openOnly == 0 {
            for trade in server.history where login == 0 || trade.login == login {
              let digits = server.accounts[UInt64(trade.login)]?.currencyDigits ?? 2
              var record = trade.cTrade(currencyDigits: digits)
              if visit(ctx, &record) != 0 { return }
            }
          }
        }
      }
      return TS_OK
    }
    // Second round (HostCommands.swift): the Manager-API writes.
    api.user_create = { host, user, loginOut in
      guard let slot = PluginSlot.from(host), let user, let loginOut else { return TS_ERR_INVALID_ARGUMENT }
      guard user.pointee.struct_size >= UInt32(MemoryLayout<ts_user>.size) else { return TS_ERR_INVALID_ARGUMENT }
      let (result, login) = slot.host.userCreate(user.pointee)
      if result == TS_OK { loginOut.pointee = login }
      slot.host.wrote(result)
      return result
    }
    api.balance_change = { host, login, action, amount, comment, dealOut in
      guard let slot = PluginSlot.from(host), let dealOut else { return TS_ERR_INVALID_ARGUMENT }
      let text = comment.map { String(cString: $0) } ?? ""
      let (result, deal) = slot.host.balanceChange(login: login, action: action, amount: amount, comment: text)
      if result == TS_OK { dealOut.pointee = deal }
      slot.host.wrote(result, comment: text)
      return result
    }
    return api
  }
}

extension PluginHost {
  /// Runs `body` with every shard locked, in index order (the one lock order
  /// anyone takes more than one lock in, so no deadlock).
  func withEveryShardLocked<R>(_ body: ([ServerShard]) -> R) -> R {
    func lockFrom(_ index: Int) -> R {
      guard index < shards.count else { return body(shards) }
      return shards[index].withLock { lockFrom(index + 1) }
    }
    return lockFrom(0)
  }
}
