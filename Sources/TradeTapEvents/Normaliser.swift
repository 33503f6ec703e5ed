import TradeServerAPI

/// Turns journaled raw records into events. Total: every input, however hostile,
/// becomes an event; what cannot be represented becomes a ``Quarantine`` body with
/// the raw bytes and the reason. It never traps.
public enum Normaliser {
  /// Decimals for money in records that carry no currency digits (positions, MT4
  /// trades and user infos). Platform values already at cents come out as exactly
  /// those cents after trimming.
  public static let undeclaredMoneyDigits = 8

  /// `struct_size` values above this are hostile (the hook's own bound, HookCapture).
  public static let implausibleStructSize: UInt32 = 65_536

  /// Normalises one raw record.
  ///
  /// - Parameters:
  ///   - record: the record as journaled.
  ///   - serverId: `ts_server_info.server_id`.
  ///   - sequence: the sequence number the hook assigned (0 for snapshots).
  ///   - hookTimestampNanos: monotonic clock at the hook.
  ///   - utcOffsetMinutes: `ts_server_info.utc_offset_minutes`.
  /// - Returns: the event; its body is `.quarantine` when the record cannot be represented.
  public static func normalise(
    _ record: RawRecord, serverId: UInt32, sequence: UInt64, hookTimestampNanos: UInt64 = 0,
    utcOffsetMinutes: Int32
  ) -> Event {
    let body: EventBody
    do {
      body = try normaliseBody(record, utcOffsetMinutes: utcOffsetMinutes)
    } catch {
      body = .quarantine(
        Quarantine(
          kind: record.kind, reason: error.reason, declaredSize: record.declaredSize,
          mode: record.mode, rawBytes: record.bytes, secondaryBytes: record.secondaryBytes))
    }
    return Event(
      serverId: serverId, sequence: sequence, kind: record.kind,
      hookTimestampNanos: hookTimestampNanos, utcOffsetMinutes: utcOffsetMinutes, body: body)
  }

  static func normaliseBody(_ record: RawRecord, utcOffsetMinutes: Int32) throws(Rejection) -> EventBody {
    if record.flags.contains(.nullRecord) { throw Rejection("null record") }
    let fields = Fields(offset: utcOffsetMinutes)
    switch record.kind {
    case .dealAdd, .dealUpdate, .dealDelete, .dealSnapshot:
      return .deal(try fields.deal(try load(ts_deal.self, record.bytes, record.declaredSize, "ts_deal")))
    case .orderAdd, .orderUpdate, .orderDelete:
      return .order(try fields.order(try load(ts_order.self, record.bytes, record.declaredSize, "ts_order")))
    case .positionAdd, .positionUpdate, .positionDelete, .positionSnapshot:
      return .position(
        try fields.position(try load(ts_position.self, record.bytes, record.declaredSize, "ts_position")))
    case .userAdd, .userUpdate, .userDelete, .userSnapshot:
      return .user(try fields.user(try load(ts_user.self, record.bytes, record.declaredSize, "ts_user")))
    case .tradeAdd, .tradeUpdate, .tradeSnapshot:
      let trade = try load(ts_trade_record.self, record.bytes, record.declaredSize, "ts_trade_record")
      var info: ts_user_info?
      if record.kind != .tradeSnapshot, record.secondaryDeclaredSize != 0 || !record.secondaryBytes.isEmpty {
        info = try load(ts_user_info.self, record.secondaryBytes, record.secondaryDeclaredSize, "ts_user_info")
      }
      let mode: TradeMode?
      switch record.kind {
      case .tradeAdd:
        guard let m = TradeAddMode(rawValue: record.mode) else { throw Rejection("trade add mode \(record.mode) is unknown") }
        mode = .add(m)
      case .tradeUpdate:
        guard let m = TradeUpdateMode(rawValue: record.mode) else { throw Rejection("trade update mode \(record.mode) is unknown") }
        mode = .update(m)
      default:
        mode = nil
      }
      return .trade(try fields.trade(trade, user: info, mode: mode))
    case .dealerLock:
      return .gateway(.request(try fields.request(try load(ts_request.self, record.bytes, record.declaredSize, "ts_request"))))
    case .dealerAnswer:
      return .gateway(.answer(try fields.answer(try load(ts_confirm.self, record.bytes, record.declaredSize, "ts_confirm"))))
    case .execution:
      return .gateway(.execution(
        try fields.execution(try load(ts_execution.self, record.bytes, record.declaredSize, "ts_execution"))))
    case .executionAck:
      guard record.bytes.count == RecordLayout.executionAckSize else {
        throw Rejection("execution ack raw length \(record.bytes.count), expected \(RecordLayout.executionAckSize)")
      }
      return record.bytes.withUnsafeBytes { bytes in
        .gateway(.executionAck(ExecutionAck(
          serverId: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self),
          executionId: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
      }
    case .gap:
      throw Rejection("a gap is not a host record")
    }
  }

  /// Loads a C struct from journaled bytes after the size checks.
  static func load<T: BitwiseCopyable>(
    _ type: T.Type, _ bytes: [UInt8], _ declared: UInt32, _ name: String
  ) throws(Rejection) -> T {
    let size = MemoryLayout<T>.size
    guard bytes.count == size else {
      throw Rejection("\(name) raw length \(bytes.count), expected \(size)")
    }
    guard Int(declared) >= size else {
      throw Rejection("\(name) struct_size \(declared) is smaller than the v1 size \(size)")
    }
    // The hook flags such a record and copies only the known prefix; a newer host's
    // appended fields never come near 64 KiB, so the record is hostile, not newer.
    guard declared <= implausibleStructSize else {
      throw Rejection("\(name) struct_size \(declared) is implausible (above \(implausibleStructSize))")
    }
    return bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
  }
}

/// Why a record is quarantined.
struct Rejection: Error {
  var reason: String
  init(_ reason: String) { self.reason = reason }
}

/// Field conversions shared by every record type; each failure names the field.
struct Fields {
  var offset: Int32

  func time(_ milliseconds: Int64) -> BrokerTime {
    BrokerTime(brokerMilliseconds: milliseconds, utcOffsetMinutes: offset)
  }

  func seconds(_ seconds: Int32) -> BrokerTime {
    time(Int64(seconds) * 1000)
  }

  func digits(_ value: some BinaryInteger, _ field: String) throws(Rejection) -> Int {
    guard value >= 0, value <= ExactDecimal.maxScale else {
      throw Rejection("\(field) \(value) is out of range")
    }
    return Int(value)
  }

  func decimal(_ value: Double, digits: Int, _ field: String) throws(Rejection) -> ExactDecimal {
    guard value.isFinite else { throw Rejection("\(field) is not finite") }
    guard let d = ExactDecimal(double: value, digits: digits) else {
      throw Rejection("\(field) is out of range")
    }
    return d
  }

  func undeclaredMoney(_ value: Double, _ field: String) throws(Rejection) -> ExactDecimal {
    try decimal(value, digits: Normaliser.undeclaredMoneyDigits, field).trimmed()
  }

  func text<T>(_ array: T, _ field: String) throws(Rejection) -> String {
    // Up to the first NUL, or the whole array when it has none; never past it.
    let decoded: String? = withUnsafeBytes(of: array) { bytes in
      let length = bytes.firstIndex(of: 0) ?? bytes.count
      return String(validating: bytes[..<length], as: UTF8.self)
    }
    guard let decoded else { throw Rejection("\(field) is not valid UTF-8") }
    return decoded
  }

  func value<E: RawRepresentable>(_ type: E.Type, _ raw: E.RawValue, _ field: String) throws(Rejection) -> E {
    guard let e = E(rawValue: raw) else { throw Rejection("\(field) \(raw) is unknown") }
    return e
  }

  func deal(_ r: ts_deal) throws(Rejection) -> Deal {
    let priceDigits = try digits(r.digits, "deal.digits")
    let money = try digits(r.currency_digits, "deal.currency_digits")
    return Deal(
      deal: r.deal, externalId: try text(r.external_id, "deal.external_id"), login: r.login,
      order: r.order, positionId: r.position_id,
      action: try value(DealAction.self, r.action, "deal.action"),
      entry: try value(DealEntry.self, r.entry, "deal.entry"), reason: r.reason,
      symbol: try text(r.symbol, "deal.symbol"), digits: r.digits, currencyDigits: r.currency_digits,
      time: time(r.time_msc), price: try decimal(r.price, digits: priceDigits, "deal.price"),
      volumeExt: r.volume_ext, contractSize: try undeclaredMoney(r.contract_size, "deal.contract_size"),
      profit: try decimal(r.profit, digits: money, "deal.profit"),
      commission: try decimal(r.commission, digits: money, "deal.commission"),
      storage: try decimal(r.storage, digits: money, "deal.storage"),
      fee: try decimal(r.fee, digits: money, "deal.fee"), comment: try text(r.comment, "deal.comment"))
  }

  func order(_ r: ts_order) throws(Rejection) -> Order {
    let priceDigits = try digits(r.digits, "order.digits")
    return Order(
      order: r.order, externalId: try text(r.external_id, "order.external_id"), login: r.login,
      symbol: try text(r.symbol, "order.symbol"), type: try value(OrderType.self, r.type, "order.type"),
      state: try value(OrderState.self, r.state, "order.state"), reason: r.reason, digits: r.digits,
      priceOrder: try decimal(r.price_order, digits: priceDigits, "order.price_order"),
      priceSL: try decimal(r.price_sl, digits: priceDigits, "order.price_sl"),
      priceTP: try decimal(r.price_tp, digits: priceDigits, "order.price_tp"),
      volumeInitialExt: r.volume_initial_ext, volumeCurrentExt: r.volume_current_ext,
      positionId: r.position_id, timeSetup: time(r.time_setup_msc),
      timeDone: r.time_done_msc == 0 ? nil : time(r.time_done_msc),
      comment: try text(r.comment, "order.comment"))
  }

  func position(_ r: ts_position) throws(Rejection) -> Position {
    let priceDigits = try digits(r.digits, "position.digits")
    return Position(
      position: r.position, login: r.login, symbol: try text(r.symbol, "position.symbol"),
      action: try value(PositionAction.self, r.action, "position.action"), digits: r.digits,
      volumeExt: r.volume_ext,
      priceOpen: try decimal(r.price_open, digits: priceDigits, "position.price_open"),
      priceCurrent: try decimal(r.price_current, digits: priceDigits, "position.price_current"),
      profit: try undeclaredMoney(r.profit, "position.profit"),
      storage: try undeclaredMoney(r.storage, "position.storage"),
      timeCreate: time(r.time_create_msc), timeUpdate: time(r.time_update_msc),
      comment: try text(r.comment, "position.comment"))
  }

  func user(_ r: ts_user) throws(Rejection) -> User {
    let money = try digits(r.currency_digits, "user.currency_digits")
    return User(
      login: r.login, group: try text(r.group, "user.group"), name: try text(r.name, "user.name"),
      email: try text(r.email, "user.email"), country: try text(r.country, "user.country"),
      currency: try text(r.currency, "user.currency"), currencyDigits: r.currency_digits,
      leverage: r.leverage, marginMode: try value(MarginMode.self, r.margin_mode, "user.margin_mode"),
      balance: try decimal(r.balance, digits: money, "user.balance"),
      credit: try decimal(r.credit, digits: money, "user.credit"),
      registration: time(r.registration_msc), lastUpdate: time(r.last_update_msc),
      comment: try text(r.comment, "user.comment"))
  }

  func trade(_ r: ts_trade_record, user: ts_user_info?, mode: TradeMode?) throws(Rejection) -> Trade {
    let priceDigits = try digits(r.digits, "trade.digits")
    var info: TradeUserInfo?
    if let u = user {
      info = TradeUserInfo(
        login: u.login, group: try text(u.group, "user_info.group"), name: try text(u.name, "user_info.name"),
        leverage: u.leverage, balance: try undeclaredMoney(u.balance, "user_info.balance"),
        credit: try undeclaredMoney(u.credit, "user_info.credit"))
    }
    return Trade(
      ticket: r.order, login: r.login, symbol: try text(r.symbol, "trade.symbol"), digits: r.digits,
      command: try value(TradeCommand.self, r.cmd, "trade.cmd"), volume: r.volume,
      openTime: seconds(r.open_time), state: r.state,
      openPrice: try decimal(r.open_price, digits: priceDigits, "trade.open_price"),
      sl: try decimal(r.sl, digits: priceDigits, "trade.sl"),
      tp: try decimal(r.tp, digits: priceDigits, "trade.tp"),
      closeTime: r.close_time == 0 ? nil : seconds(r.close_time),
      closePrice: try decimal(r.close_price, digits: priceDigits, "trade.close_price"),
      commission: try undeclaredMoney(r.commission, "trade.commission"),
      storage: try undeclaredMoney(r.storage, "trade.storage"),
      profit: try undeclaredMoney(r.profit, "trade.profit"),
      taxes: try undeclaredMoney(r.taxes, "trade.taxes"), magic: r.magic,
      comment: try text(r.comment, "trade.comment"), timestamp: seconds(r.timestamp), user: info,
      mode: mode)
  }

  // MARK: The gateway model

  func request(_ r: ts_request) throws(Rejection) -> TradeRequest {
    let priceDigits = try digits(r.digits, "request.digits")
    return TradeRequest(
      requestId: r.request_id, serverId: r.server_id, login: r.login, group: try text(r.group, "request.group"),
      symbol: try text(r.symbol, "request.symbol"), digits: r.digits,
      action: try value(RequestAction.self, r.action, "request.action"), type: r.type, flags: r.flags,
      volumeExt: r.volume_ext, order: r.order, positionId: r.position_id,
      priceOrder: try decimal(r.price_order, digits: priceDigits, "request.price_order"),
      priceSL: try decimal(r.price_sl, digits: priceDigits, "request.price_sl"),
      priceTP: try decimal(r.price_tp, digits: priceDigits, "request.price_tp"),
      priceBid: try decimal(r.price_bid, digits: priceDigits, "request.price_bid"),
      priceAsk: try decimal(r.price_ask, digits: priceDigits, "request.price_ask"),
      time: time(r.time_msc), comment: try text(r.comment, "request.comment"))
  }

  func answer(_ r: ts_confirm) throws(Rejection) -> DealerAnswer {
    DealerAnswer(
      requestId: r.request_id, serverId: r.server_id, retcode: r.retcode, order: r.order, deal: r.deal,
      volumeExt: r.volume_ext, price: try undeclaredMoney(r.price, "confirm.price"),
      priceBid: try undeclaredMoney(r.price_bid, "confirm.price_bid"),
      priceAsk: try undeclaredMoney(r.price_ask, "confirm.price_ask"), time: time(r.time_msc),
      comment: try text(r.comment, "confirm.comment"))
  }

  func execution(_ r: ts_execution) throws(Rejection) -> Execution {
    let priceDigits = try digits(r.digits, "execution.digits")
    return Execution(
      executionId: r.execution_id, serverId: r.server_id,
      action: try value(ExecutionAction.self, r.action, "execution.action"), flags: r.flags,
      requestId: r.request_id, login: r.login, group: try text(r.group, "execution.group"),
      symbol: try text(r.symbol, "execution.symbol"), digits: r.digits, order: r.order,
      orderExternalId: try text(r.order_external_id, "execution.order_external_id"),
      orderType: try value(OrderType.self, r.order_type, "execution.order_type"),
      orderVolumeExt: r.order_volume_ext,
      orderPrice: try decimal(r.order_price, digits: priceDigits, "execution.order_price"),
      dealExternalId: try text(r.deal_external_id, "execution.deal_external_id"),
      dealAction: try value(DealAction.self, r.deal_action, "execution.deal_action"),
      dealVolumeExt: r.deal_volume_ext, dealVolumeRemainingExt: r.deal_volume_remaining_ext,
      dealPrice: try decimal(r.deal_price, digits: priceDigits, "execution.deal_price"),
      priceGateway: try decimal(r.price_gateway, digits: priceDigits, "execution.price_gateway"),
      dealCommission: try undeclaredMoney(r.deal_commission, "execution.deal_commission"),
      positionId: r.position_id, externalRetcode: r.external_retcode, time: time(r.time_msc),
      comment: try text(r.comment, "execution.comment"))
  }
}
