import Foundation
import GRDB
import TradeTapEvents

/// Projects events onto the ledger's tables inside one open write transaction.
///
/// Keeps each touched server's durable sequence number in memory for the length
/// of the transaction and writes it back once in ``finish()``.
struct LedgerProjection {
  let db: Database
  let receivedUtc: String
  private var insertEvent: RawStatement
  private var upsertAccount: RawStatement
  private var upsertAccountFromTradeUser: RawStatement
  private var upsertDeal: RawStatement
  private var upsertBalanceOperation: RawStatement
  private var upsertOrder: RawStatement
  private var upsertPosition: RawStatement
  private var upsertTrade: RawStatement
  private var durable: [UInt32: UInt64] = [:]
  private var offsets: [UInt32: Int32] = [:]
  private var counts = LedgerCommit(
    durableSequence: [:], appliedEvents: 0, duplicateEvents: 0, quarantinedEvents: 0, gapsRecorded: 0)

  /// - Parameter correcting: reconciliation writes platform state at the durable
  ///   sequence, so its upserts also replace rows of that same `updated_seq`.
  init(db: Database, receivedUtc: String, correcting: Bool = false) throws {
    self.db = db
    self.receivedUtc = receivedUtc
    let sql: (String) -> String = { correcting ? LedgerStatements.correcting($0) : $0 }
    insertEvent = try RawStatement(db, LedgerStatements.insertEvent)
    upsertAccount = try RawStatement(db, sql(LedgerStatements.upsertAccount))
    upsertAccountFromTradeUser = try RawStatement(db, sql(LedgerStatements.upsertAccountFromTradeUser))
    upsertDeal = try RawStatement(db, sql(LedgerStatements.upsertDeal))
    upsertBalanceOperation = try RawStatement(db, sql(LedgerStatements.upsertBalanceOperation))
    upsertOrder = try RawStatement(db, sql(LedgerStatements.upsertOrder))
    upsertPosition = try RawStatement(db, sql(LedgerStatements.upsertPosition))
    upsertTrade = try RawStatement(db, sql(LedgerStatements.upsertTrade))
  }

  mutating func apply(_ batch: LedgerBatch) throws {
    let serverId = batch.serverId
    var last = try durableSequence(of: serverId, utcOffsetMinutes: batch.events.first?.utcOffsetMinutes ?? 0)
    // The collector's batches arrive in order: sort only when they do not.
    let inOrder = batch.events.indices.dropFirst().allSatisfy {
      batch.events[$0 - 1].sequence < batch.events[$0].sequence
    }
    let ordered = inOrder
      ? Array(batch.events.indices) : batch.events.indices.sorted { batch.events[$0].sequence < batch.events[$1].sequence }
    for index in ordered {
      let event = batch.events[index]
      // Sequence 0 is a snapshot record: reconciliation applies those, not the stream.
      guard event.serverId == serverId, event.sequence > last else {
        counts.duplicateEvents += 1
        continue
      }
      let encoded = index < batch.encodedEvents.count ? batch.encodedEvents[index] : nil
      guard try insertEventRow(event, encoded: encoded) else {
        counts.duplicateEvents += 1
        continue
      }
      try project(event)
      // After the event, so that a gap event naming the same range keeps its own reason.
      // From 0 too: a first event past 1 is a jump like any other (issue 10: a jump
      // never moves the durable point silently).
      if event.sequence > last + 1,
        try !gapIsKnown(serverId: serverId, first: last + 1, last: event.sequence - 1)
      {
        try insertGap(serverId: serverId, first: last + 1, last: event.sequence - 1, reason: "not received")
      }
      counts.appliedEvents += 1
      last = event.sequence
      offsets[serverId] = event.utcOffsetMinutes
    }
    durable[serverId] = last
  }

  mutating func recordGap(_ notice: ReportedGap) throws {
    _ = try durableSequence(of: notice.serverId, utcOffsetMinutes: 0)
    try insertGap(
      serverId: notice.serverId, first: notice.firstSequence, last: notice.lastSequence, reason: notice.reason)
  }

  mutating func finish() throws -> LedgerCommit {
    for (serverId, seq) in durable {
      let offset = offsets[serverId]
      try db.cachedStatement(sql: LedgerStatements.advanceServer).execute(arguments: [
        Int64(truncatingIfNeeded: seq), offset.map { Int($0) }, Int64(serverId),
      ])
    }
    counts.durableSequence = durable
    return counts
  }

  // MARK: - Servers and the event stream

  private mutating func durableSequence(of serverId: UInt32, utcOffsetMinutes: Int32) throws -> UInt64 {
    if let known = durable[serverId] { return known }
    try db.cachedStatement(sql: LedgerStatements.ensureServer).execute(arguments: [
      Int64(serverId), Int(utcOffsetMinutes),
    ])
    let value = try Int64.fetchOne(db.cachedStatement(sql: LedgerStatements.serverLastSeq), arguments: [Int64(serverId)])
    let seq = UInt64(max(0, value ?? 0))
    durable[serverId] = seq
    return seq
  }

  /// Inserts the audit row; `false` when `(server_id, seq)` is already there.
  private mutating func insertEventRow(_ event: Event, encoded: [UInt8]?) throws -> Bool {
    let time = event.body.primaryTime
    insertEvent.bind(Int64(event.serverId))
    insertEvent.bind(Int64(truncatingIfNeeded: event.sequence))
    insertEvent.bind(event.ledgerKind)
    insertEvent.bind(time?.brokerMilliseconds)
    if let time { insertEvent.bindUTC(millisecondsSinceEpoch: time.utcMilliseconds) } else { insertEvent.bindNull() }
    insertEvent.bind(receivedUtc)
    switch event.body {
    case .gap, .quarantine:
      insertEvent.bind(event.summary)
    default:
      insertEvent.bindText(maxBytes: Event.maxWrittenSummaryBytes) { out in
        var writer = LedgerTextWriter(out)
        _ = event.writeSummary(&writer)
        return writer.count
      }
    }
    insertEvent.bind(blob: encoded)
    return try insertEvent.step() > 0
  }

  /// Whether a stored gap already covers `first...last` (the plugin reported it).
  private func gapIsKnown(serverId: UInt32, first: UInt64, last: UInt64) throws -> Bool {
    try Bool.fetchOne(
      db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM gaps WHERE server_id = ? AND first_seq <= ? AND last_seq >= ?)"),
      arguments: [Int64(serverId), Int64(truncatingIfNeeded: first), Int64(truncatingIfNeeded: last)]) ?? false
  }

  private mutating func insertGap(
    serverId: UInt32, first: UInt64, last: UInt64, reason: String, refusedEvents: UInt64? = nil
  ) throws {
    try db.cachedStatement(sql: LedgerStatements.insertGap).execute(arguments: [
      Int64(serverId), Int64(truncatingIfNeeded: first), Int64(truncatingIfNeeded: last), reason, receivedUtc,
      refusedEvents.map { Int64(clamping: $0) },
    ])
    if db.changesCount > 0 { counts.gapsRecorded += 1 }
  }

  // MARK: - Projection onto the tables

  mutating func project(_ event: Event) throws {
    let server = Int64(event.serverId)
    let seq = Int64(truncatingIfNeeded: event.sequence)
    switch event.body {
    case .user(let user):
      try upsertAccount(user, server: server, seq: seq, deleted: event.kind == .userDelete)
    case .deal(let deal):
      try upsertDeal(deal, server: server, seq: seq, deleted: event.kind == .dealDelete)
    case .order(let order):
      try upsertOrder(order, server: server, seq: seq, inHistory: event.kind == .orderDelete)
    case .position(let position):
      if event.kind == .positionDelete {
        try closePosition(position, server: server, seq: seq)
      } else {
        try upsertPosition(position, server: server, seq: seq)
      }
    case .trade(let trade):
      try upsertTrade(trade, server: server, seq: seq)
    case .gap(let gap):
      // A filtered sequence is a deliberate hole, not loss: its `events` row (kind
      // `filtered`) is the whole record; `gaps` and the gap count stay for loss.
      guard gap.reason.isLoss else { break }
      let last = gap.firstSequence &+ max(gap.count, 1) &- 1
      try insertGap(serverId: event.serverId, first: gap.firstSequence, last: last, reason: gap.reason.name,
                    refusedEvents: gap.refusedEvents)
    case .quarantine(let quarantine):
      try db.cachedStatement(sql: LedgerStatements.insertQuarantine).execute(arguments: [
        server, seq, quarantine.kind.ledgerName, quarantine.reason,
        Data(quarantine.rawBytes + quarantine.secondaryBytes), receivedUtc,
      ])
      counts.quarantinedEvents += 1
    }
  }

  private mutating func upsertAccount(_ u: User, server: Int64, seq: Int64, deleted: Bool) throws {
    var st = upsertAccount
    defer { upsertAccount = st }
    st.bind(server); st.bind(Int64(truncatingIfNeeded: u.login)); st.bind(u.group); st.bind(u.name)
    st.bind(u.email); st.bind(u.country); st.bind(u.currency); st.bind(Int64(u.currencyDigits))
    st.bind(u.balance); st.bind(u.credit); st.bind(Int64(u.marginMode.rawValue)); st.bind(Int64(u.leverage))
    st.bind(u.comment); st.bind(u.registration.brokerMilliseconds); st.bindUTC(u.registration)
    st.bind(u.lastUpdate.brokerMilliseconds); st.bindUTC(u.lastUpdate); st.bind(deleted); st.bind(seq)
    try st.step()
  }

  private mutating func upsertDeal(_ d: Deal, server: Int64, seq: Int64, deleted: Bool) throws {
    var st = upsertDeal
    defer { upsertDeal = st }
    st.bind(server); st.bind(Int64(truncatingIfNeeded: d.deal)); st.bind(d.externalId)
    st.bind(Int64(truncatingIfNeeded: d.login)); st.bind(Int64(truncatingIfNeeded: d.order))
    st.bind(Int64(truncatingIfNeeded: d.positionId)); st.bind(Int64(d.action.rawValue)); st.bind(Int64(d.entry.rawValue))
    st.bind(Int64(d.reason)); st.bind(d.symbol); st.bind(Int64(d.digits)); st.bind(Int64(d.currencyDigits))
    st.bind(d.time.brokerMilliseconds); st.bindUTC(d.time); st.bind(d.price); st.bind(Int64(truncatingIfNeeded: d.volumeExt))
    st.bind(d.contractSize); st.bind(d.profit); st.bind(d.commission); st.bind(d.storage); st.bind(d.fee)
    st.bind(d.comment); st.bind(deleted); st.bind(seq)
    try st.step()
    if let type = d.balanceOperationType {
      try upsertBalanceOperation(
        server: server, ticket: Int64(truncatingIfNeeded: d.deal), source: "mt5_deal",
        login: Int64(truncatingIfNeeded: d.login), type: type, code: Int64(d.action.rawValue), amount: d.profit,
        timeMsc: d.time.brokerMilliseconds, timeUtc: d.time, comment: d.comment, deleted: deleted, seq: seq)
    }
  }

  private mutating func upsertBalanceOperation(
    server: Int64, ticket: Int64, source: String, login: Int64, type: BalanceOperationType, code: Int64,
    amount: ExactDecimal, timeMsc: Int64, timeUtc: BrokerTime, comment: String, deleted: Bool, seq: Int64
  ) throws {
    var st = upsertBalanceOperation
    defer { upsertBalanceOperation = st }
    st.bind(server); st.bind(ticket); st.bind(source); st.bind(login); st.bind(type.rawValue); st.bind(code)
    st.bind(amount); st.bind(timeMsc); st.bindUTC(timeUtc); st.bind(comment); st.bind(deleted); st.bind(seq)
    try st.step()
  }

  private mutating func upsertOrder(_ o: Order, server: Int64, seq: Int64, inHistory: Bool) throws {
    var st = upsertOrder
    defer { upsertOrder = st }
    st.bind(server); st.bind(Int64(truncatingIfNeeded: o.order)); st.bind(o.externalId)
    st.bind(Int64(truncatingIfNeeded: o.login)); st.bind(o.symbol); st.bind(Int64(o.type.rawValue))
    st.bind(Int64(o.state.rawValue)); st.bind(Int64(o.reason)); st.bind(Int64(o.digits)); st.bind(o.priceOrder)
    st.bind(o.priceSL); st.bind(o.priceTP); st.bind(Int64(truncatingIfNeeded: o.volumeInitialExt))
    st.bind(Int64(truncatingIfNeeded: o.volumeCurrentExt)); st.bind(Int64(truncatingIfNeeded: o.positionId))
    st.bind(o.timeSetup.brokerMilliseconds); st.bindUTC(o.timeSetup); st.bind(o.timeDone?.brokerMilliseconds ?? 0)
    st.bindUTC(o.timeDone); st.bind(o.comment); st.bind(inHistory); st.bind(seq)
    try st.step()
  }

  private mutating func upsertPosition(_ p: Position, server: Int64, seq: Int64) throws {
    let position = Int64(truncatingIfNeeded: p.position)
    // A position closed by a newer event stays closed.
    let closedSeq = try Int64.fetchOne(
      db.cachedStatement(sql: LedgerStatements.positionClosedSeq), arguments: [server, position])
    if let closedSeq, closedSeq > seq { return }
    var st = upsertPosition
    defer { upsertPosition = st }
    st.bind(server); st.bind(position); st.bind(Int64(truncatingIfNeeded: p.login)); st.bind(p.symbol)
    st.bind(Int64(p.action.rawValue)); st.bind(Int64(p.digits)); st.bind(Int64(truncatingIfNeeded: p.volumeExt))
    st.bind(p.priceOpen); st.bind(p.priceCurrent); st.bind(p.profit); st.bind(p.storage)
    st.bind(p.timeCreate.brokerMilliseconds); st.bindUTC(p.timeCreate); st.bind(p.timeUpdate.brokerMilliseconds)
    st.bindUTC(p.timeUpdate); st.bind(p.comment); st.bind(seq)
    try st.step()
  }

  private func closePosition(_ p: Position, server: Int64, seq: Int64) throws {
    let position = Int64(truncatingIfNeeded: p.position)
    try db.cachedStatement(sql: LedgerStatements.deletePosition).execute(arguments: [server, position, seq])
    try db.cachedStatement(sql: LedgerStatements.recordPositionClosure).execute(arguments: [server, position, seq])
  }

  private mutating func upsertTrade(_ t: Trade, server: Int64, seq: Int64) throws {
    let deleted = t.mode == .update(.delete)
    let isMoney = t.command == .balance || t.command == .credit
    let isOpen = !deleted && !isMoney && t.closeTime == nil
    var st = upsertTrade
    defer { upsertTrade = st }
    st.bind(server); st.bind(Int64(t.ticket)); st.bind(Int64(t.login)); st.bind(t.symbol); st.bind(Int64(t.digits))
    st.bind(Int64(t.command.rawValue)); st.bind(Int64(t.volume)); st.bind(t.openTime.brokerMilliseconds / 1000)
    st.bindUTC(t.openTime); st.bind(Int64(t.state)); st.bind(t.openPrice); st.bind(t.sl); st.bind(t.tp)
    st.bind((t.closeTime?.brokerMilliseconds ?? 0) / 1000); st.bindUTC(t.closeTime); st.bind(t.closePrice)
    st.bind(t.commission); st.bind(t.storage); st.bind(t.profit); st.bind(t.taxes); st.bind(Int64(t.magic))
    st.bind(t.comment); st.bind(t.timestamp.brokerMilliseconds / 1000); st.bind(isOpen); st.bind(deleted)
    st.bind(Int64(t.mode?.rawValue ?? 0)); st.bind(seq)
    try st.step()
    if let type = t.balanceOperationType {
      let time = t.closeTime ?? t.openTime
      try upsertBalanceOperation(
        server: server, ticket: Int64(t.ticket), source: "mt4_trade", login: Int64(t.login), type: type,
        code: Int64(t.command.rawValue), amount: t.profit, timeMsc: time.brokerMilliseconds, timeUtc: time,
        comment: t.comment, deleted: deleted, seq: seq)
    }
    if let user = t.user {
      var st = upsertAccountFromTradeUser
      defer { upsertAccountFromTradeUser = st }
      st.bind(server); st.bind(Int64(user.login)); st.bind(user.group); st.bind(user.name)
      st.bind(Int64(user.leverage)); st.bind(user.balance); st.bind(user.credit); st.bind(seq)
      try st.step()
    }
  }
}

extension RawStatement {
  /// Binds a broker time's UTC text, or NULL.
  mutating func bindUTC(_ time: BrokerTime?) {
    if let time { bindUTC(millisecondsSinceEpoch: time.utcMilliseconds) } else { bindNull() }
  }
}
