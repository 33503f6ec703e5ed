import TradeServerAPI

// The simulator's records as the ABI's C structs. Strings are copied into the fixed
// arrays NUL-terminated (truncated to fit); every struct carries its full size.

@inline(__always)
func copyText<T>(_ text: String, into field: inout T) {
  withUnsafeMutableBytes(of: &field) { raw in
    var text = text
    text.withUTF8 { utf8 in
      let count = min(utf8.count, raw.count - 1)
      if count > 0 { raw.baseAddress!.copyMemory(from: utf8.baseAddress!, byteCount: count) }
      raw[count] = 0
    }
  }
}

/// Reads a fixed char array (NUL-terminated or full) as a String.
public func text<T>(of field: T) -> String {
  withUnsafeBytes(of: field) { raw in
    let end = raw.firstIndex(of: 0) ?? raw.count
    return String(decoding: raw[..<end], as: UTF8.self)
  }
}

extension Account {
  var cUser: ts_user {
    var user = ts_user()
    user.struct_size = UInt32(MemoryLayout<ts_user>.size)
    user.login = login
    copyText(group, into: &user.group)
    copyText(name, into: &user.name)
    copyText(email, into: &user.email)
    copyText(country, into: &user.country)
    copyText(currency, into: &user.currency)
    user.currency_digits = UInt32(currencyDigits)
    user.leverage = leverage
    user.margin_mode = marginMode.rawValue
    user.balance = Money.double(balance, digits: currencyDigits)
    user.credit = Money.double(credit, digits: currencyDigits)
    user.registration_msc = registrationMsc
    user.last_update_msc = lastUpdateMsc
    copyText(comment, into: &user.comment)
    return user
  }

  var cUserInfo: ts_user_info {
    var info = ts_user_info()
    info.struct_size = UInt32(MemoryLayout<ts_user_info>.size)
    info.login = Int32(truncatingIfNeeded: login)
    copyText(group, into: &info.group)
    copyText(name, into: &info.name)
    info.leverage = Int32(truncatingIfNeeded: leverage)
    info.balance = Money.double(balance, digits: currencyDigits)
    info.credit = Money.double(credit, digits: currencyDigits)
    return info
  }
}

extension Deal {
  var cDeal: ts_deal {
    var deal = ts_deal()
    deal.struct_size = UInt32(MemoryLayout<ts_deal>.size)
    deal.deal = self.deal
    deal.login = login
    deal.order = order
    deal.position_id = positionID
    deal.action = action.rawValue
    deal.entry = entry.rawValue
    deal.reason = reason
    copyText(symbol, into: &deal.symbol)
    deal.digits = UInt32(digits)
    deal.currency_digits = UInt32(currencyDigits)
    deal.time_msc = timeMsc
    deal.price = Double(pricePoints) / Money.doublePowers[digits]
    deal.volume_ext = volumeExt
    deal.contract_size = contractSize
    deal.profit = Money.double(profit, digits: currencyDigits)
    deal.commission = Money.double(commission, digits: currencyDigits)
    deal.storage = Money.double(storage, digits: currencyDigits)
    deal.fee = Money.double(fee, digits: currencyDigits)
    copyText(comment, into: &deal.comment)
    if !externalID.isEmpty { copyText(externalID, into: &deal.external_id) }
    return deal
  }
}

extension Order {
  var cOrder: ts_order {
    var order = ts_order()
    order.struct_size = UInt32(MemoryLayout<ts_order>.size)
    order.order = self.order
    order.login = login
    copyText(symbol, into: &order.symbol)
    order.type = type.rawValue
    order.state = state.rawValue
    order.reason = reason
    order.digits = UInt32(digits)
    order.price_order = Double(pricePoints) / Money.doublePowers[digits]
    order.price_sl = Double(slPoints) / Money.doublePowers[digits]
    order.price_tp = Double(tpPoints) / Money.doublePowers[digits]
    order.volume_initial_ext = volumeInitial
    order.volume_current_ext = volumeCurrent
    order.position_id = positionID
    order.time_setup_msc = timeSetupMsc
    order.time_done_msc = timeDoneMsc
    copyText(comment, into: &order.comment)
    return order
  }
}

extension Position {
  var cPosition: ts_position {
    var position = ts_position()
    position.struct_size = UInt32(MemoryLayout<ts_position>.size)
    position.position = self.position
    position.login = login
    copyText(symbol, into: &position.symbol)
    position.action = isBuy ? 0 : 1
    position.digits = UInt32(digits)
    position.volume_ext = volumeExt
    position.price_open = priceOpen
    position.price_current = Double(priceCurrentPoints) / Money.doublePowers[digits]
    position.profit = Money.double(profit, digits: currencyDigits)
    position.storage = Money.double(storage, digits: currencyDigits)
    position.time_create_msc = timeCreateMsc
    position.time_update_msc = timeUpdateMsc
    copyText(comment, into: &position.comment)
    return position
  }
}

extension TradeRecord {
  func cTrade(currencyDigits: Int) -> ts_trade_record {
    var trade = ts_trade_record()
    trade.struct_size = UInt32(MemoryLayout<ts_trade_record>.size)
    trade.order = ticket
    trade.login = login
    copyText(symbol, into: &trade.symbol)
    trade.digits = Int32(digits)
    trade.cmd = cmd
    trade.volume = volume
    trade.open_time = openTime
    trade.state = 0
    trade.open_price = Double(openPricePoints) / Money.doublePowers[digits]
    trade.sl = Double(slPoints) / Money.doublePowers[digits]
    trade.tp = Double(tpPoints) / Money.doublePowers[digits]
    trade.close_time = closeTime
    trade.close_price = Double(closePricePoints) / Money.doublePowers[digits]
    trade.commission = Money.double(commission, digits: currencyDigits)
    trade.storage = Money.double(storage, digits: currencyDigits)
    trade.profit = Money.double(profit, digits: currencyDigits)
    trade.taxes = Money.double(taxes, digits: currencyDigits)
    trade.magic = magic
    copyText(comment, into: &trade.comment)
    trade.timestamp = timestamp
    return trade
  }
}
