import TradeServerAPI

/// Fires one hook call to every subscribed sink, as the C record the ABI defines.
/// Records live on this thread's stack for the duration of the call only.
enum HookDispatch {
  static func fire(_ event: ServerEvent, to sinks: [ts_event_sink]) {
    switch event {
    case .dealAdd(let deal):
      var record = deal.cDeal
      for sink in sinks { sink.on_deal_add?(sink.context, &record) }
    case .dealUpdate(let deal):
      var record = deal.cDeal
      for sink in sinks { sink.on_deal_update?(sink.context, &record) }
    case .orderAdd(let order):
      var record = order.cOrder
      for sink in sinks { sink.on_order_add?(sink.context, &record) }
    case .orderUpdate(let order):
      var record = order.cOrder
      for sink in sinks { sink.on_order_update?(sink.context, &record) }
    case .orderDelete(let order):
      var record = order.cOrder
      for sink in sinks { sink.on_order_delete?(sink.context, &record) }
    case .positionAdd(let position):
      var record = position.cPosition
      for sink in sinks { sink.on_position_add?(sink.context, &record) }
    case .positionUpdate(let position):
      var record = position.cPosition
      for sink in sinks { sink.on_position_update?(sink.context, &record) }
    case .positionDelete(let position):
      var record = position.cPosition
      for sink in sinks { sink.on_position_delete?(sink.context, &record) }
    case .tradeAdd(let trade, let account, let mode):
      var record = trade.cTrade(currencyDigits: account.currencyDigits)
      var user = account.cUserInfo
      for sink in sinks { sink.on_trade_add?(sink.context, &record, &user, mode) }
    case .tradeUpdate(let trade, let account, let mode):
      var record = trade.cTrade(currencyDigits: account.currencyDigits)
      var user = account.cUserInfo
      for sink in sinks { sink.on_trade_update?(sink.context, &record, &user, mode) }
    case .userAdd(let account):
      var record = account.cUser
      for sink in sinks { sink.on_user_add?(sink.context, &record) }
    case .userUpdate(let account):
      var record = account.cUser
      for sink in sinks { sink.on_user_update?(sink.context, &record) }
    case .userDelete(let account):
      var record = account.cUser
      for sink in sinks { sink.on_user_delete?(sink.context, &record) }
    }
  }
}
