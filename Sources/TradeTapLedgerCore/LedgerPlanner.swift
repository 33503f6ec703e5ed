import TradeTapEvents

/// One write the projection makes, the same on every backend; executors only
/// translate it into their SQL.
public enum LedgerWrite: Sendable, Equatable {
  /// A guarded upsert (``LedgerRowImage``). A `positions` row is never written over
  /// a newer close of the same position (`position_closures`).
  case upsert(LedgerRowImage)
  /// A position closed at `seq`: its row goes if older, and the close is remembered
  /// (the newest one) so that an older replay cannot reopen it.
  case closePosition(serverId: Int64, position: Int64, seq: Int64)
  /// A row of `gaps`. `unlessCovered`: skipped when a stored gap already covers the
  /// range (a jump the plugin reported itself keeps the plugin's reason).
  case gap(serverId: UInt32, first: UInt64, last: UInt64, reason: String, refusedEvents: UInt64?, unlessCovered: Bool)
  /// A record the plugin could not trust, kept whole for a person.
  case quarantine(serverId: Int64, seq: Int64, kind: RecordKind, reason: String, body: [UInt8])
}

/// Which events of a batch are new, in sequence order (the first step of a commit).
public struct LedgerAdmission: Sendable, Equatable {
  /// Indices into the batch's events, strictly increasing in sequence, all above the
  /// durable sequence: the executor inserts their `events` rows (unique (server_id,
  /// seq)) and reports which it inserted.
  public var admitted: [Int]
  /// Events at or below the durable sequence, of another server, or repeated in the batch.
  public var duplicates: Int
}

/// What one batch does to the ledger once its `events` rows are in: the writes in
/// order, and the server's new durable point.
public struct LedgerProjectionPlan: Sendable, Equatable {
  public var writes: [LedgerWrite] = []
  /// The server's durable sequence after the batch.
  public var durableSequence: UInt64
  /// The UTC offset of the last event applied (nil: none applied).
  public var utcOffsetMinutes: Int32?
  public var appliedEvents = 0
  public var duplicateEvents = 0
  public var quarantinedEvents = 0
}

/// The projection's rules, pure: no database, no I/O, so they are tested alone and
/// every backend executes the same plan (docs/ledger.md, "One ledger core").
/// - ordering: a batch is applied in sequence order (sorted only when it is not);
/// - dedupe: a sequence at or below the durable point, or already in `events`, changes nothing;
/// - a jump not covered by a reported gap is recorded as one (`not received`), from 0 too;
/// - every row write is an upsert guarded by `updated_seq`, keyed on platform identifiers.
public enum LedgerPlanner {
  /// Step 1: the events above `durable`, in sequence order, each sequence once.
  /// Sequence 0 is a snapshot record: reconciliation applies those, not the stream.
  public static func admit(_ batch: LedgerBatch, durable: UInt64) -> LedgerAdmission {
    let events = batch.events
    let inOrder = events.indices.dropFirst().allSatisfy { events[$0 - 1].sequence < events[$0].sequence }
    let ordered = inOrder ? Array(events.indices) : events.indices.sorted { events[$0].sequence < events[$1].sequence }
    var admission = LedgerAdmission(admitted: [], duplicates: 0)
    admission.admitted.reserveCapacity(ordered.count)
    var highest = durable
    for index in ordered {
      let event = events[index]
      guard event.serverId == batch.serverId, event.sequence > highest else {
        admission.duplicates += 1
        continue
      }
      admission.admitted.append(index)
      highest = event.sequence
    }
    return admission
  }

  /// Step 2: the writes of the admitted events whose `events` row the executor
  /// inserted (sequences in `inserted`); one not inserted was already there.
  public static func project(
    _ batch: LedgerBatch, _ admission: LedgerAdmission, durable: UInt64, inserted: Set<UInt64>
  ) -> LedgerProjectionPlan {
    var plan = LedgerProjectionPlan(durableSequence: durable, duplicateEvents: admission.duplicates)
    plan.writes.reserveCapacity(admission.admitted.count * 2)
    var last = durable
    for index in admission.admitted {
      let event = batch.events[index]
      guard inserted.contains(event.sequence) else {
        plan.duplicateEvents += 1
        continue
      }
      appendWrites(for: event, to: &plan.writes)
      if case .quarantine = event.body { plan.quarantinedEvents += 1 }
      // After the event, so that a gap event naming the same range keeps its own reason.
      // From 0 too: a first event past 1 is a jump like any other (a jump never moves
      // the durable point silently).
      if event.sequence > last &+ 1 {
        plan.writes.append(.gap(
          serverId: batch.serverId, first: last &+ 1, last: event.sequence &- 1, reason: "not received",
          refusedEvents: nil, unlessCovered: true))
      }
      plan.appliedEvents += 1
      last = event.sequence
      plan.utcOffsetMinutes = event.utcOffsetMinutes
    }
    plan.durableSequence = last
    return plan
  }

  /// The writes one event makes, in order (the stream, and reconciliation's corrections).
  public static func writes(for event: Event) -> [LedgerWrite] {
    var writes: [LedgerWrite] = []
    appendWrites(for: event, to: &writes)
    return writes
  }

  static func appendWrites(for event: Event, to writes: inout [LedgerWrite]) {
    let server = Int64(event.serverId)
    let seq = Int64(truncatingIfNeeded: event.sequence)
    switch event.body {
    case .user(let user):
      writes.append(.upsert(account(user, server: server, seq: seq, deleted: event.kind == .userDelete)))
    case .deal(let deal):
      let deleted = event.kind == .dealDelete
      writes.append(.upsert(self.deal(deal, server: server, seq: seq, deleted: deleted)))
      if let type = deal.balanceOperationType {
        writes.append(.upsert(balanceOperation(
          server: server, ticket: Int64(truncatingIfNeeded: deal.deal), source: "mt5_deal",
          login: Int64(truncatingIfNeeded: deal.login), type: type, code: Int64(deal.action.rawValue),
          amount: deal.profit, time: deal.time, comment: deal.comment, deleted: deleted, seq: seq)))
      }
    case .order(let order):
      writes.append(.upsert(self.order(order, server: server, seq: seq, inHistory: event.kind == .orderDelete)))
    case .position(let position):
      if event.kind == .positionDelete {
        writes.append(.closePosition(serverId: server, position: Int64(truncatingIfNeeded: position.position), seq: seq))
      } else {
        writes.append(.upsert(self.position(position, server: server, seq: seq)))
      }
    case .trade(let trade):
      appendTradeWrites(trade, server: server, seq: seq, to: &writes)
    case .gap(let gap):
      // A filtered sequence is a deliberate hole, not loss: its `events` row (kind
      // `filtered`) is the whole record; `gaps` and the gap count stay for loss.
      guard gap.reason.isLoss else { break }
      writes.append(.gap(
        serverId: event.serverId, first: gap.firstSequence, last: gap.firstSequence &+ max(gap.count, 1) &- 1,
        reason: gap.reason.name, refusedEvents: gap.refusedEvents, unlessCovered: false))
    case .quarantine(let quarantine):
      writes.append(.quarantine(
        serverId: server, seq: seq, kind: quarantine.kind, reason: quarantine.reason,
        body: quarantine.rawBytes + quarantine.secondaryBytes))
    case .gateway(let body):
      if let row = gatewayRow(body, gateway: server, seq: seq) { writes.append(.upsert(row)) }
    }
  }

  // MARK: - Row images

  public static func account(_ u: User, server: Int64, seq: Int64, deleted: Bool) -> LedgerRowImage {
    LedgerRowImage(.account, [
      .integer(server), .integer(Int64(truncatingIfNeeded: u.login)), .text(u.group), .text(u.name),
      .text(u.email), .text(u.country), .text(u.currency), .integer(Int64(u.currencyDigits)),
      .money(u.balance), .money(u.credit), .integer(Int64(u.marginMode.rawValue)), .integer(Int64(u.leverage)),
      .text(u.comment), .integer(u.registration.brokerMilliseconds), .utc(u.registration),
      .integer(u.lastUpdate.brokerMilliseconds), .utc(u.lastUpdate), .flag(deleted), .integer(seq),
    ])
  }

  public static func deal(_ d: Deal, server: Int64, seq: Int64, deleted: Bool) -> LedgerRowImage {
    LedgerRowImage(.deal, [
      .integer(server), .integer(Int64(truncatingIfNeeded: d.deal)), .text(d.externalId),
      .integer(Int64(truncatingIfNeeded: d.login)), .integer(Int64(truncatingIfNeeded: d.order)),
      .integer(Int64(truncatingIfNeeded: d.positionId)), .integer(Int64(d.action.rawValue)),
      .integer(Int64(d.entry.rawValue)), .integer(Int64(d.reason)), .text(d.symbol), .integer(Int64(d.digits)),
      .integer(Int64(d.currencyDigits)), .integer(d.time.brokerMilliseconds), .utc(d.time), .money(d.price),
      .integer(Int64(truncatingIfNeeded: d.volumeExt)), .money(d.contractSize), .money(d.profit),
      .money(d.commission), .money(d.storage), .money(d.fee), .text(d.comment), .flag(deleted), .integer(seq),
    ])
  }

  public static func balanceOperation(
    server: Int64, ticket: Int64, source: String, login: Int64, type: BalanceOperationType, code: Int64,
    amount: ExactDecimal, time: BrokerTime, comment: String, deleted: Bool, seq: Int64
  ) -> LedgerRowImage {
    LedgerRowImage(.balanceOperation, [
      .integer(server), .integer(ticket), .text(source), .integer(login), .text(type.rawValue), .integer(code),
      .money(amount), .integer(time.brokerMilliseconds), .utc(time), .text(comment), .flag(deleted), .integer(seq),
    ])
  }

  public static func order(_ o: Order, server: Int64, seq: Int64, inHistory: Bool) -> LedgerRowImage {
    LedgerRowImage(.order, [
      .integer(server), .integer(Int64(truncatingIfNeeded: o.order)), .text(o.externalId),
      .integer(Int64(truncatingIfNeeded: o.login)), .text(o.symbol), .integer(Int64(o.type.rawValue)),
      .integer(Int64(o.state.rawValue)), .integer(Int64(o.reason)), .integer(Int64(o.digits)), .money(o.priceOrder),
      .money(o.priceSL), .money(o.priceTP), .integer(Int64(truncatingIfNeeded: o.volumeInitialExt)),
      .integer(Int64(truncatingIfNeeded: o.volumeCurrentExt)), .integer(Int64(truncatingIfNeeded: o.positionId)),
      .integer(o.timeSetup.brokerMilliseconds), .utc(o.timeSetup), .integer(o.timeDone?.brokerMilliseconds ?? 0),
      .utc(o.timeDone), .text(o.comment), .flag(inHistory), .integer(seq),
    ])
  }

  public static func position(_ p: Position, server: Int64, seq: Int64) -> LedgerRowImage {
    LedgerRowImage(.position, [
      .integer(server), .integer(Int64(truncatingIfNeeded: p.position)), .integer(Int64(truncatingIfNeeded: p.login)),
      .text(p.symbol), .integer(Int64(p.action.rawValue)), .integer(Int64(p.digits)),
      .integer(Int64(truncatingIfNeeded: p.volumeExt)), .money(p.priceOpen), .money(p.priceCurrent),
      .money(p.profit), .money(p.storage), .integer(p.timeCreate.brokerMilliseconds), .utc(p.timeCreate),
      .integer(p.timeUpdate.brokerMilliseconds), .utc(p.timeUpdate), .text(p.comment), .integer(seq),
    ])
  }

  static func appendTradeWrites(_ t: Trade, server: Int64, seq: Int64, to writes: inout [LedgerWrite]) {
    let deleted = t.mode == .update(.delete)
    let isMoney = t.command == .balance || t.command == .credit
    let isOpen = !deleted && !isMoney && t.closeTime == nil
    writes.append(.upsert(LedgerRowImage(.trade, [
      .integer(server), .integer(Int64(t.ticket)), .integer(Int64(t.login)), .text(t.symbol), .integer(Int64(t.digits)),
      .integer(Int64(t.command.rawValue)), .integer(Int64(t.volume)), .integer(t.openTime.brokerMilliseconds / 1000),
      .utc(t.openTime), .integer(Int64(t.state)), .money(t.openPrice), .money(t.sl), .money(t.tp),
      .integer((t.closeTime?.brokerMilliseconds ?? 0) / 1000), .utc(t.closeTime), .money(t.closePrice),
      .money(t.commission), .money(t.storage), .money(t.profit), .money(t.taxes), .integer(Int64(t.magic)),
      .text(t.comment), .integer(t.timestamp.brokerMilliseconds / 1000), .flag(isOpen), .flag(deleted),
      .integer(Int64(t.mode?.rawValue ?? 0)), .integer(seq),
    ])))
    if let type = t.balanceOperationType {
      writes.append(.upsert(balanceOperation(
        server: server, ticket: Int64(t.ticket), source: "mt4_trade", login: Int64(t.login), type: type,
        code: Int64(t.command.rawValue), amount: t.profit, time: t.closeTime ?? t.openTime, comment: t.comment,
        deleted: deleted, seq: seq)))
    }
    if let user = t.user {
      writes.append(.upsert(LedgerRowImage(.accountFromTradeUser, [
        .integer(server), .integer(Int64(user.login)), .text(user.group), .text(user.name),
        .integer(Int64(user.leverage)), .money(user.balance), .money(user.credit), .integer(seq),
      ])))
    }
  }
}
