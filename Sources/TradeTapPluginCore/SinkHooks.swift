import TradeServerAPI
import TradeTapEvents

// The fourteen ts_event_sink members. Each is a C function (local to the .so: the
// version script exports only ts_plugin_*) that journals its record and returns.
// The `tradetap_hook_` names let the build's checks find them in the symbol table.

@_cdecl("tradetap_hook_deal_add")
func hookDealAdd(_ context: UnsafeMutableRawPointer?, _ deal: UnsafePointer<ts_deal>?) {
  HookCapture.capture(context, kind: RecordKind.dealAdd.rawValue, family: .deals, record: UnsafeRawPointer(deal), size: 256)
}
@_cdecl("tradetap_hook_deal_update")
func hookDealUpdate(_ context: UnsafeMutableRawPointer?, _ deal: UnsafePointer<ts_deal>?) {
  HookCapture.capture(context, kind: RecordKind.dealUpdate.rawValue, family: .deals, record: UnsafeRawPointer(deal), size: 256)
}
@_cdecl("tradetap_hook_deal_delete")
func hookDealDelete(_ context: UnsafeMutableRawPointer?, _ deal: UnsafePointer<ts_deal>?) {
  HookCapture.capture(context, kind: RecordKind.dealDelete.rawValue, family: .deals, record: UnsafeRawPointer(deal), size: 256)
}
@_cdecl("tradetap_hook_order_add")
func hookOrderAdd(_ context: UnsafeMutableRawPointer?, _ order: UnsafePointer<ts_order>?) {
  HookCapture.capture(context, kind: RecordKind.orderAdd.rawValue, family: .orders, record: UnsafeRawPointer(order), size: 232)
}
@_cdecl("tradetap_hook_order_update")
func hookOrderUpdate(_ context: UnsafeMutableRawPointer?, _ order: UnsafePointer<ts_order>?) {
  HookCapture.capture(context, kind: RecordKind.orderUpdate.rawValue, family: .orders, record: UnsafeRawPointer(order), size: 232)
}
@_cdecl("tradetap_hook_order_delete")
func hookOrderDelete(_ context: UnsafeMutableRawPointer?, _ order: UnsafePointer<ts_order>?) {
  HookCapture.capture(context, kind: RecordKind.orderDelete.rawValue, family: .orders, record: UnsafeRawPointer(order), size: 232)
}
@_cdecl("tradetap_hook_position_add")
func hookPositionAdd(_ context: UnsafeMutableRawPointer?, _ position: UnsafePointer<ts_position>?) {
  HookCapture.capture(context, kind: RecordKind.positionAdd.rawValue, family: .positions, record: UnsafeRawPointer(position), size: 184)
}
@_cdecl("tradetap_hook_position_update")
func hookPositionUpdate(_ context: UnsafeMutableRawPointer?, _ position: UnsafePointer<ts_position>?) {
  HookCapture.capture(context, kind: RecordKind.positionUpdate.rawValue, family: .positions, record: UnsafeRawPointer(position), size: 184)
}
@_cdecl("tradetap_hook_position_delete")
func hookPositionDelete(_ context: UnsafeMutableRawPointer?, _ position: UnsafePointer<ts_position>?) {
  HookCapture.capture(context, kind: RecordKind.positionDelete.rawValue, family: .positions, record: UnsafeRawPointer(position), size: 184)
}
@_cdecl("tradetap_hook_trade_add")
func hookTradeAdd(_ context: UnsafeMutableRawPointer?, _ trade: UnsafePointer<ts_trade_record>?, _ user: UnsafePointer<ts_user_info>?, _ mode: Int32) {
  HookCapture.captureTrade(context, kind: RecordKind.tradeAdd.rawValue, trade: UnsafeRawPointer(trade), user: UnsafeRawPointer(user), mode: mode)
}
@_cdecl("tradetap_hook_trade_update")
func hookTradeUpdate(_ context: UnsafeMutableRawPointer?, _ trade: UnsafePointer<ts_trade_record>?, _ user: UnsafePointer<ts_user_info>?, _ mode: Int32) {
  HookCapture.captureTrade(context, kind: RecordKind.tradeUpdate.rawValue, trade: UnsafeRawPointer(trade), user: UnsafeRawPointer(user), mode: mode)
}
@_cdecl("tradetap_hook_user_add")
func hookUserAdd(_ context: UnsafeMutableRawPointer?, _ user: UnsafePointer<ts_user>?) {
  HookCapture.capture(context, kind: RecordKind.userAdd.rawValue, family: .users, record: UnsafeRawPointer(user), size: 432)
}
@_cdecl("tradetap_hook_user_update")
func hookUserUpdate(_ context: UnsafeMutableRawPointer?, _ user: UnsafePointer<ts_user>?) {
  HookCapture.capture(context, kind: RecordKind.userUpdate.rawValue, family: .users, record: UnsafeRawPointer(user), size: 432)
}
@_cdecl("tradetap_hook_user_delete")
func hookUserDelete(_ context: UnsafeMutableRawPointer?, _ user: UnsafePointer<ts_user>?) {
  HookCapture.capture(context, kind: RecordKind.userDelete.rawValue, family: .users, record: UnsafeRawPointer(user), size: 432)
}

/// The sink the plugin subscribes, with every member set and `context` pointing
/// at the instance's ``HookContext``.
func makeEventSink(context: UnsafeMutableRawPointer) -> ts_event_sink {
  var sink = ts_event_sink()
  sink.struct_size = UInt32(MemoryLayout<ts_event_sink>.size)
  sink.context = context
  sink.on_deal_add = hookDealAdd
  sink.on_deal_update = hookDealUpdate
  sink.on_deal_delete = hookDealDelete
  sink.on_order_add = hookOrderAdd
  sink.on_order_update = hookOrderUpdate
  sink.on_order_delete = hookOrderDelete
  sink.on_position_add = hookPositionAdd
  sink.on_position_update = hookPositionUpdate
  sink.on_position_delete = hookPositionDelete
  sink.on_trade_add = hookTradeAdd
  sink.on_trade_update = hookTradeUpdate
  sink.on_user_add = hookUserAdd
  sink.on_user_update = hookUserUpdate
  sink.on_user_delete = hookUserDelete
  return sink
}

/// The record sizes the hooks hard-code (so the copy is a constant-size move)
/// must equal the header's; checked once at startup.
func hookRecordSizesMatchHeader() -> Bool {
  MemoryLayout<ts_deal>.size == 256 && MemoryLayout<ts_order>.size == 232
    && MemoryLayout<ts_position>.size == 184 && MemoryLayout<ts_trade_record>.size == 160
    && MemoryLayout<ts_user_info>.size == 176 && MemoryLayout<ts_user>.size == 432
}
