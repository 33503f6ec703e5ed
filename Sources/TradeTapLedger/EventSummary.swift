import TradeTapEvents

// How events are named and summarised in the `events` audit table. The names are
// part of the schema (CRM queries filter on them): never rename, only add.

extension RecordKind {
  /// The `events.kind` / `quarantine.kind` text: `deal_add`, `user_update`, `gap`...
  public var ledgerName: String {
    switch self {
    case .dealAdd: "deal_add"
    case .dealUpdate: "deal_update"
    case .dealDelete: "deal_delete"
    case .orderAdd: "order_add"
    case .orderUpdate: "order_update"
    case .orderDelete: "order_delete"
    case .positionAdd: "position_add"
    case .positionUpdate: "position_update"
    case .positionDelete: "position_delete"
    case .tradeAdd: "trade_add"
    case .tradeUpdate: "trade_update"
    case .userAdd: "user_add"
    case .userUpdate: "user_update"
    case .userDelete: "user_delete"
    case .gap: "gap"
    case .userSnapshot: "user_snapshot"
    case .positionSnapshot: "position_snapshot"
    case .dealSnapshot: "deal_snapshot"
    case .tradeSnapshot: "trade_snapshot"
    case .dealerLock: "dealer_lock"
    case .dealerAnswer: "dealer_answer"
    case .execution: "execution"
    case .executionAck: "execution_ack"
    }
  }
}

extension Event {
  /// The `events.kind` text: the record kind's name, except `filtered` for a
  /// deliberate hole (a gap event with reason `filtered`), so reports can tell the
  /// sequence numbers the plugin withheld from those that lost events.
  public var ledgerKind: String {
    if case .gap(let gap) = body, !gap.reason.isLoss { return GapReason.filtered.name }
    return kind.ledgerName
  }
}

extension EventBody {
  /// The platform time the event is about, when it has one.
  public var primaryTime: BrokerTime? {
    switch self {
    case .deal(let d): d.time
    case .order(let o): o.timeDone ?? o.timeSetup
    case .position(let p): p.timeUpdate
    case .trade(let t): t.closeTime ?? t.openTime
    case .user(let u): u.lastUpdate
    case .gateway(.request(let r)): r.time
    case .gateway(.answer(let a)): a.time
    case .gateway(.execution(let x)): x.time
    case .gap, .quarantine, .gateway(.executionAck): nil
    }
  }
}

extension Event {
  /// One line for `events.summary`: the identifiers and the money, nothing else.
  public var summary: String {
    switch body {
    case .deal(let d):
      "deal \(d.deal) login \(d.login) action \(d.action.rawValue) entry \(d.entry.rawValue) volume_ext \(d.volumeExt) profit \(d.profit)"
    case .order(let o):
      "order \(o.order) login \(o.login) type \(o.type.rawValue) state \(o.state.rawValue)"
    case .position(let p):
      "position \(p.position) login \(p.login) volume_ext \(p.volumeExt) profit \(p.profit)"
    case .trade(let t):
      "trade \(t.ticket) login \(t.login) cmd \(t.command.rawValue) mode \(t.mode?.rawValue ?? -1) profit \(t.profit)"
    case .user(let u):
      "user \(u.login) balance \(u.balance) credit \(u.credit)"
    case .gap(let g):
      "gap first \(g.firstSequence) count \(g.count) reason \(g.reason.name)"
        + (g.refusedEvents.map { " refused \($0)" } ?? "")
    case .quarantine(let q):
      "quarantine \(q.kind.ledgerName): \(q.reason)"
    case .gateway(.request(let r)):
      "request \(r.requestId) server \(r.serverId) login \(r.login) action \(r.action.rawValue) volume_ext \(r.volumeExt)"
    case .gateway(.answer(let a)):
      "answer \(a.requestId) server \(a.serverId) retcode \(a.retcode) order \(a.order)"
    case .gateway(.execution(let x)):
      "execution \(x.executionId) server \(x.serverId) order \(x.order) action \(x.action.rawValue) volume_ext \(x.dealVolumeExt) price \(x.dealPrice)"
    case .gateway(.executionAck(let k)):
      "execution_ack server \(k.serverId) through \(k.executionId)"
    }
  }
}
