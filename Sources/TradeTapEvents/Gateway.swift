// The gateway model (shared/spec/plugin-abi.md, "The gateway model"): what a plugin
// loaded by an MT5-style gateway taps. A trade server routes a request to the
// gateway (`on_dealer_lock`), the gateway answers it (`on_dealer_answer`), places it
// with a liquidity provider and sends the server executions (`on_execution`); the
// server confirms the executions it processed (`on_execution_ack`).
//
// These events carry the gateway id as their source id (`Event.serverId`); the
// trade server a record belongs to is its own `serverId` field.

/// One gateway event body.
public enum GatewayEvent: Sendable, Hashable {
  case request(TradeRequest)
  case answer(DealerAnswer)
  case execution(Execution)
  case executionAck(ExecutionAck)
}

/// A trade server's request as the gateway locked it (`ts_request`, MT5 `IMTRequest`).
/// Prices are rounded to `digits`.
public struct TradeRequest: Sendable, Hashable {
  /// The server's request id: unique per (gateway, server).
  public var requestId: UInt64
  /// The trade server it came from.
  public var serverId: UInt32
  public var login: UInt64
  public var group: String
  public var symbol: String
  public var digits: UInt32
  public var action: RequestAction
  /// `TS_ORDER_*` as the server set it; passed through (price requests carry none).
  public var type: UInt32
  public var flags: UInt64
  /// 1/100,000,000 lot.
  public var volumeExt: UInt64
  public var order: UInt64
  public var positionId: UInt64
  public var priceOrder: ExactDecimal
  public var priceSL: ExactDecimal
  public var priceTP: ExactDecimal
  /// The server's quote when it routed the request (slippage is measured from it).
  public var priceBid: ExactDecimal
  public var priceAsk: ExactDecimal
  /// Gateway broker time.
  public var time: BrokerTime
  public var comment: String

  public init(
    requestId: UInt64, serverId: UInt32, login: UInt64, group: String, symbol: String, digits: UInt32,
    action: RequestAction, type: UInt32, flags: UInt64, volumeExt: UInt64, order: UInt64, positionId: UInt64,
    priceOrder: ExactDecimal, priceSL: ExactDecimal, priceTP: ExactDecimal, priceBid: ExactDecimal,
    priceAsk: ExactDecimal, time: BrokerTime, comment: String
  ) {
    self.requestId = requestId
    self.serverId = serverId
    self.login = login
    self.group = group
    self.symbol = symbol
    self.digits = digits
    self.action = action
    self.type = type
    self.flags = flags
    self.volumeExt = volumeExt
    self.order = order
    self.positionId = positionId
    self.priceOrder = priceOrder
    self.priceSL = priceSL
    self.priceTP = priceTP
    self.priceBid = priceBid
    self.priceAsk = priceAsk
    self.time = time
    self.comment = comment
  }
}

/// The gateway's answer to a request (`ts_confirm`, MT5 `IMTConfirm`). The record
/// carries no digits: prices keep up to 8 decimals, trailing zeros trimmed.
public struct DealerAnswer: Sendable, Hashable {
  public var requestId: UInt64
  public var serverId: UInt32
  /// `TS_RET_REQUEST_*`, or another MT5 code: passed through unchanged.
  public var retcode: Int32
  public var order: UInt64
  public var deal: UInt64
  public var volumeExt: UInt64
  public var price: ExactDecimal
  public var priceBid: ExactDecimal
  public var priceAsk: ExactDecimal
  public var time: BrokerTime
  public var comment: String

  public init(
    requestId: UInt64, serverId: UInt32, retcode: Int32, order: UInt64, deal: UInt64, volumeExt: UInt64,
    price: ExactDecimal, priceBid: ExactDecimal, priceAsk: ExactDecimal, time: BrokerTime, comment: String
  ) {
    self.requestId = requestId
    self.serverId = serverId
    self.retcode = retcode
    self.order = order
    self.deal = deal
    self.volumeExt = volumeExt
    self.price = price
    self.priceBid = priceBid
    self.priceAsk = priceAsk
    self.time = time
    self.comment = comment
  }

  /// `PLACED`: the external system answers with executions.
  public var isPlaced: Bool { retcode == 10008 }
  /// `DONE` or `DONE_PARTIAL`: the gateway filled it itself.
  public var isDone: Bool { retcode == 10009 || retcode == 10010 }
}

/// An execution the gateway sent a server (`ts_execution`, MT5 `IMTExecution`).
/// A fill (`action == .orderFill`) is matched to the server's deal on
/// (`serverId`, `order`, `dealExternalId` = the deal's `external_id`).
public struct Execution: Sendable, Hashable {
  /// The gateway's own id: strictly increasing, never reused.
  public var executionId: UInt64
  /// The trade server it goes to.
  public var serverId: UInt32
  public var action: ExecutionAction
  public var flags: UInt64
  public var requestId: UInt64
  public var login: UInt64
  public var group: String
  public var symbol: String
  public var digits: UInt32
  public var order: UInt64
  public var orderExternalId: String
  public var orderType: OrderType
  public var orderVolumeExt: UInt64
  public var orderPrice: ExactDecimal
  public var dealExternalId: String
  public var dealAction: DealAction
  public var dealVolumeExt: UInt64
  public var dealVolumeRemainingExt: UInt64
  public var dealPrice: ExactDecimal
  /// The liquidity provider's price before the gateway's markup.
  public var priceGateway: ExactDecimal
  /// No currency digits in the record: up to 8 decimals, trailing zeros trimmed.
  public var dealCommission: ExactDecimal
  public var positionId: UInt64
  public var externalRetcode: Int32
  public var time: BrokerTime
  public var comment: String

  public init(
    executionId: UInt64, serverId: UInt32, action: ExecutionAction, flags: UInt64, requestId: UInt64,
    login: UInt64, group: String, symbol: String, digits: UInt32, order: UInt64, orderExternalId: String,
    orderType: OrderType, orderVolumeExt: UInt64, orderPrice: ExactDecimal, dealExternalId: String,
    dealAction: DealAction, dealVolumeExt: UInt64, dealVolumeRemainingExt: UInt64, dealPrice: ExactDecimal,
    priceGateway: ExactDecimal, dealCommission: ExactDecimal, positionId: UInt64, externalRetcode: Int32,
    time: BrokerTime, comment: String
  ) {
    self.executionId = executionId
    self.serverId = serverId
    self.action = action
    self.flags = flags
    self.requestId = requestId
    self.login = login
    self.group = group
    self.symbol = symbol
    self.digits = digits
    self.order = order
    self.orderExternalId = orderExternalId
    self.orderType = orderType
    self.orderVolumeExt = orderVolumeExt
    self.orderPrice = orderPrice
    self.dealExternalId = dealExternalId
    self.dealAction = dealAction
    self.dealVolumeExt = dealVolumeExt
    self.dealVolumeRemainingExt = dealVolumeRemainingExt
    self.dealPrice = dealPrice
    self.priceGateway = priceGateway
    self.dealCommission = dealCommission
    self.positionId = positionId
    self.externalRetcode = externalRetcode
    self.time = time
    self.comment = comment
  }
}

/// A trade server's confirmation that it processed its executions through an id
/// (MT5's `executions.dat` point): the gateway resends nothing at or below it.
public struct ExecutionAck: Sendable, Hashable {
  public var serverId: UInt32
  public var executionId: UInt64

  public init(serverId: UInt32, executionId: UInt64) {
    self.serverId = serverId
    self.executionId = executionId
  }
}

/// What a request asks for (MT5 `IMTRequest::EnTradeActions`, `TS_TA_*`).
public enum RequestAction: UInt32, Sendable, CaseIterable {
  case price = 0
  case request = 1
  case instant = 2
  case market = 3
  case exchange = 4
  case pending = 5
  case sltp = 6
  case modify = 7
  case remove = 8
  case transfer = 9
  case closeBy = 10
  case activate = 100
  case activateSL = 101
  case activateTP = 102
  case activateStopLimit = 103
  case stopoutOrder = 104
  case stopoutPosition = 105
  case expiration = 106
}

/// What an execution reports (MT5 `IMTExecution::EnTradeExecutions`, `TS_TE_*`).
public enum ExecutionAction: UInt32, Sendable, CaseIterable {
  case orderNewRequest = 0
  case orderNew = 1
  case orderFill = 2
  case orderReject = 3
  case orderModifyRequest = 4
  case orderModify = 5
  case orderModifyReject = 6
  case orderCancelRequest = 7
  case orderCancel = 8
  case orderCancelReject = 9
  case orderChangeId = 10
  case orderCloseBy = 11
  case orderExpire = 12
  case dealCancel = 50
  case dealCorrect = 51
  case dealExternal = 52
  case balanceChange = 150
  case balanceCorrect = 151
}
