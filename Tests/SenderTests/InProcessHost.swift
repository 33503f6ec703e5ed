import Foundation
import Synchronization
import TradeServerAPI

/// A trade server host written in the test: a real `ts_server_api` (log, clock,
/// parameters, subscribe) handed to the real plugin core, whose sink the test then
/// fires like a host thread would. Only one at a time (C callbacks reach it through
/// a global, as a C host would through its `host` pointer).
final class InProcessHost: @unchecked Sendable {
  nonisolated(unsafe) static var current: InProcessHost?

  let api: UnsafeMutablePointer<ts_server_api>
  let info: UnsafeMutablePointer<ts_server_info>
  let parameters: [String: String]
  let logLines = Mutex<[String]>([])
  nonisolated(unsafe) var sink = ts_event_sink()

  init(serverId: UInt32, parameters: [String: String]) {
    self.parameters = parameters
    info = .allocate(capacity: 1)
    info.initialize(to: ts_server_info())
    info.pointee.struct_size = UInt32(MemoryLayout<ts_server_info>.size)
    info.pointee.server_id = serverId
    info.pointee.platform = UInt32(TS_PLATFORM_MT5)
    info.pointee.utc_offset_minutes = 120
    withUnsafeMutableBytes(of: &info.pointee.name) { $0.copyBytes(from: Array("Sender Test \(serverId)".utf8)) }
    api = .allocate(capacity: 1)
    api.initialize(to: ts_server_api())
    api.pointee.struct_size = UInt32(MemoryLayout<ts_server_api>.size)
    api.pointee.api_version = UInt32(TS_API_VERSION)
    api.pointee.info = UnsafePointer(info)
    api.pointee.log = { _, level, message in
      let line = "[\(level)] " + String(cString: message!)
      InProcessHost.current?.logLines.withLock { $0.append(line) }
    }
    api.pointee.time_msc = { _ in Int64(Date().timeIntervalSince1970 * 1000) }
    api.pointee.param_get = { _, name, value, size in
      guard let host = InProcessHost.current, let name, let value,
        let found = host.parameters[String(cString: name)]
      else { return TS_ERR_NOT_FOUND }
      let bytes = Array(found.utf8.prefix(Int(size) - 1)) + [0]
      bytes.withUnsafeBufferPointer { value.update(from: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), count: bytes.count) }
      return TS_OK
    }
    api.pointee.subscribe = { _, sink in
      InProcessHost.current?.sink = sink!.pointee
      return TS_OK
    }
    api.pointee.unsubscribe = { _, _ in TS_OK }
    api.pointee.user_get = { _, _, _ in TS_ERR_NOT_FOUND }
    InProcessHost.current = self
  }

  deinit {
    if InProcessHost.current === self { InProcessHost.current = nil }
  }

  /// Fires `on_deal_add` for a plain buy deal with ticket `ticket`.
  func fireDeal(ticket: UInt64, login: UInt64 = 5001) {
    var deal = ts_deal()
    deal.struct_size = UInt32(MemoryLayout<ts_deal>.size)
    deal.deal = ticket
    deal.login = login
    deal.order = ticket
    deal.position_id = ticket
    deal.action = UInt32(TS_DEAL_BUY)
    deal.entry = UInt32(TS_ENTRY_IN)
    withUnsafeMutableBytes(of: &deal.symbol) { $0.copyBytes(from: Array("EURUSD".utf8)) }
    deal.digits = 5
    deal.currency_digits = 2
    deal.time_msc = 1_750_000_000_000 + Int64(ticket)
    deal.price = 1.08123
    deal.volume_ext = 100_000_000
    deal.contract_size = 100_000
    sink.on_deal_add?(sink.context, &deal)
  }

  /// Fires `on_user_add` for an account in `group`.
  func fireUser(login: UInt64, group: String) {
    var user = ts_user()
    user.struct_size = UInt32(MemoryLayout<ts_user>.size)
    user.login = login
    withUnsafeMutableBytes(of: &user.group) { $0.copyBytes(from: Array(group.utf8)) }
    withUnsafeMutableBytes(of: &user.currency) { $0.copyBytes(from: Array("USD".utf8)) }
    user.currency_digits = 2
    user.leverage = 100
    user.margin_mode = UInt32(TS_MARGIN_RETAIL_HEDGING)
    user.balance = 1000
    user.registration_msc = 1_750_000_000_000
    user.last_update_msc = 1_750_000_000_000
    sink.on_user_add?(sink.context, &user)
  }

  var log: [String] { logLines.withLock { $0 } }
}
