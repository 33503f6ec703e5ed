import TradeTapEvents

// The gateway model's rows (issue 11, docs/gateway.md): a gateway's requests,
// answers and executions are platform facts that never change once tapped, so
// each is written once, keyed on its platform identifiers, and a replay (the same
// event again, or the same record under another sequence) changes nothing: the
// first row written stays (`ON CONFLICT DO NOTHING` on both backends).
//
// The first column of each is the gateway id (the event's source id); the trade
// server a record belongs to is its own `server_id`; the last column is `seq`,
// the gateway event that wrote the row.

extension LedgerRowShape {
  /// `gateway_requests`, unique on (gateway_id, server_id, request_id).
  public static let gatewayRequest = LedgerRowShape(id: 7, table: .gatewayRequests, insertOnly: true, columns: [
    "gateway_id", "server_id", "request_id", "login", "group", "symbol", "digits", "action", "type", "flags",
    "volume_ext", "order", "position_id", "price_order", "price_sl", "price_tp", "price_bid", "price_ask",
    "time_msc", "time_utc", "comment", "seq",
  ])
  /// `gateway_answers`, unique on (gateway_id, server_id, request_id, seq): a request
  /// may be answered more than once (a resent request); each answer is its own row.
  public static let gatewayAnswer = LedgerRowShape(id: 8, table: .gatewayAnswers, insertOnly: true, columns: [
    "gateway_id", "server_id", "request_id", "retcode", "order", "deal", "volume_ext", "price", "price_bid",
    "price_ask", "time_msc", "time_utc", "comment", "seq",
  ])
  /// `executions`, unique on (gateway_id, execution_id).
  public static let execution = LedgerRowShape(id: 9, table: .executions, insertOnly: true, columns: [
    "gateway_id", "execution_id", "server_id", "action", "flags", "request_id", "login", "group", "symbol",
    "digits", "order", "order_external_id", "order_type", "order_volume_ext", "order_price", "deal_external_id",
    "deal_action", "deal_volume_ext", "deal_volume_remaining_ext", "deal_price", "price_gateway",
    "deal_commission", "position_id", "external_retcode", "time_msc", "time_utc", "comment", "seq",
  ])
}

extension LedgerPlanner {
  /// The row one gateway event writes; an execution ack writes none (its `events`
  /// row is the record of the server's confirmed point).
  public static func gatewayRow(_ body: GatewayEvent, gateway: Int64, seq: Int64) -> LedgerRowImage? {
    func int(_ value: UInt64) -> LedgerCell { .integer(Int64(truncatingIfNeeded: value)) }
    func int(_ value: UInt32) -> LedgerCell { .integer(Int64(value)) }
    switch body {
    case .request(let r):
      return LedgerRowImage(.gatewayRequest, [
        .integer(gateway), int(r.serverId), int(r.requestId), int(r.login), .text(r.group), .text(r.symbol),
        int(r.digits), int(r.action.rawValue), int(r.type), int(r.flags), int(r.volumeExt), int(r.order),
        int(r.positionId), .money(r.priceOrder), .money(r.priceSL), .money(r.priceTP), .money(r.priceBid),
        .money(r.priceAsk), .integer(r.time.brokerMilliseconds), .utc(r.time), .text(r.comment), .integer(seq),
      ])
    case .answer(let a):
      return LedgerRowImage(.gatewayAnswer, [
        .integer(gateway), int(a.serverId), int(a.requestId), .integer(Int64(a.retcode)), int(a.order), int(a.deal),
        int(a.volumeExt), .money(a.price), .money(a.priceBid), .money(a.priceAsk), .integer(a.time.brokerMilliseconds),
        .utc(a.time), .text(a.comment), .integer(seq),
      ])
    case .execution(let x):
      return LedgerRowImage(.execution, [
        .integer(gateway), int(x.executionId), int(x.serverId), int(x.action.rawValue), int(x.flags), int(x.requestId),
        int(x.login), .text(x.group), .text(x.symbol), int(x.digits), int(x.order), .text(x.orderExternalId),
        int(x.orderType.rawValue), int(x.orderVolumeExt), .money(x.orderPrice), .text(x.dealExternalId),
        int(x.dealAction.rawValue), int(x.dealVolumeExt), int(x.dealVolumeRemainingExt), .money(x.dealPrice),
        .money(x.priceGateway), .money(x.dealCommission), int(x.positionId), .integer(Int64(x.externalRetcode)),
        .integer(x.time.brokerMilliseconds), .utc(x.time), .text(x.comment), .integer(seq),
      ])
    case .executionAck:
      return nil
    }
  }
}
