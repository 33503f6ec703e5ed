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
  private var durable: [UInt32: UInt64] = [:]
  private var offsets: [UInt32: Int32] = [:]
  private var counts = LedgerCommit(
    durableSequence: [:], appliedEvents: 0, duplicateEvents: 0, quarantinedEvents: 0, gapsRecorded: 0)

  init(db: Database, receivedUtc: String) {
    self.db = db
    self.receivedUtc = receivedUtc
  }

  mutating func apply(_ batch: LedgerBatch) throws {
    let serverId = batch.serverId
    var last = try durableSequence(of: serverId, utcOffsetMinutes: batch.events.first?.utcOffsetMinutes ?? 0)
    let ordered = batch.events.indices.sorted { batch.events[$0].sequence < batch.events[$1].sequence }
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
      if event.sequence > last + 1, last > 0,
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
  private func insertEventRow(_ event: Event, encoded: [UInt8]?) throws -> Bool {
    let time = event.body.primaryTime
    try db.cachedStatement(sql: LedgerStatements.insertEvent).execute(arguments: [
      Int64(event.serverId), Int64(truncatingIfNeeded: event.sequence), event.kind.ledgerName,
      time?.brokerMilliseconds, time.map { UTCTime.text(millisecondsSinceEpoch: $0.utcMilliseconds) },
      receivedUtc, event.summary, encoded.map { Data($0) },
    ])
    return db.changesCount > 0
  }

  /// Whether a stored gap already covers `first...last` (the plugin reported it).
  private func gapIsKnown(serverId: UInt32, first: UInt64, last: UInt64) throws -> Bool {
    try Bool.fetchOne(
      db, sql: "SELECT EXISTS (SELECT 1 FROM gaps WHERE server_id = ? AND first_seq <= ? AND last_seq >= ?)",
      arguments: [Int64(serverId), Int64(truncatingIfNeeded: first), Int64(truncatingIfNeeded: last)]) ?? false
  }

  private mutating func insertGap(serverId: UInt32, first: UInt64, last: UInt64, reason: String) throws {
    try db.cachedStatement(sql: LedgerStatements.insertGap).execute(arguments: [
      Int64(serverId), Int64(truncatingIfNeeded: first), Int64(truncatingIfNeeded: last), reason, receivedUtc,
    ])
    if db.changesCount > 0 { counts.gapsRecorded += 1 }
  }

  // MARK: - Projection onto the tables

  private mutating func project(_ event: Event) throws {
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
      let last = gap.firstSequence &+ max(gap.count, 1) &- 1
      try insertGap(serverId: event.serverId, first: gap.firstSequence, last: last, reason: gap.reason.ledgerName)
    case .quarantine(let quarantine):
      try db.cachedStatement(sql: LedgerStatements.insertQuarantine).execute(arguments: [
        server, seq, quarantine.kind.ledgerName, quarantine.reason,
        Data(quarantine.rawBytes + quarantine.secondaryBytes), receivedUtc,
      ])
      counts.quarantinedEvents += 1
    }
  }

  private func upsertAccount(_ u: User, server: Int64, seq: Int64, deleted: Bool) throws {
    try db.cachedStatement(sql: LedgerStatements.upsertAccount).execute(arguments: [
      server, Int64(truncatingIfNeeded: u.login), u.group, u.name, u.email, u.country, u.currency,
      Int(u.currencyDigits), u.balance.description, u.credit.description, Int(u.marginMode.rawValue),
      Int(u.leverage), u.comment, u.registration.brokerMilliseconds, utc(u.registration),
      u.lastUpdate.brokerMilliseconds, utc(u.lastUpdate), deleted, seq,
    ])
  }

  private func upsertDeal(_ d: Deal, server: Int64, seq: Int64, deleted: Bool) throws {
    try db.cachedStatement(sql: LedgerStatements.upsertDeal).execute(arguments: [
      server, Int64(truncatingIfNeeded: d.deal), d.externalId, Int64(truncatingIfNeeded: d.login),
      Int64(truncatingIfNeeded: d.order), Int64(truncatingIfNeeded: d.positionId), Int(d.action.rawValue),
      Int(d.entry.rawValue), Int64(d.reason), d.symbol, Int(d.digits), Int(d.currencyDigits),
      d.time.brokerMilliseconds, utc(d.time), d.price.description, Int64(truncatingIfNeeded: d.volumeExt),
      d.contractSize.description, d.profit.description, d.commission.description, d.storage.description,
      d.fee.description, d.comment, deleted, seq,
    ])
    if let type = d.balanceOperationType {
      try db.cachedStatement(sql: LedgerStatements.upsertBalanceOperation).execute(arguments: [
        server, Int64(truncatingIfNeeded: d.deal), "mt5_deal", Int64(truncatingIfNeeded: d.login),
        type.rawValue, Int(d.action.rawValue), d.profit.description, d.time.brokerMilliseconds, utc(d.time),
        d.comment, deleted, seq,
      ])
    }
  }

  private func upsertOrder(_ o: Order, server: Int64, seq: Int64, inHistory: Bool) throws {
    try db.cachedStatement(sql: LedgerStatements.upsertOrder).execute(arguments: [
      server, Int64(truncatingIfNeeded: o.order), o.externalId, Int64(truncatingIfNeeded: o.login), o.symbol,
      Int(o.type.rawValue), Int(o.state.rawValue), Int64(o.reason), Int(o.digits), o.priceOrder.description,
      o.priceSL.description, o.priceTP.description, Int64(truncatingIfNeeded: o.volumeInitialExt),
      Int64(truncatingIfNeeded: o.volumeCurrentExt), Int64(truncatingIfNeeded: o.positionId),
      o.timeSetup.brokerMilliseconds, utc(o.timeSetup), o.timeDone?.brokerMilliseconds ?? 0,
      o.timeDone.map(utc), o.comment, inHistory, seq,
    ])
  }

  private func upsertPosition(_ p: Position, server: Int64, seq: Int64) throws {
    let position = Int64(truncatingIfNeeded: p.position)
    // A position closed by a newer event stays closed.
    let closedSeq = try Int64.fetchOne(
      db.cachedStatement(sql: LedgerStatements.positionClosedSeq), arguments: [server, position])
    if let closedSeq, closedSeq > seq { return }
    try db.cachedStatement(sql: LedgerStatements.upsertPosition).execute(arguments: [
      server, position, Int64(truncatingIfNeeded: p.login), p.symbol, Int(p.action.rawValue), Int(p.digits),
      Int64(truncatingIfNeeded: p.volumeExt), p.priceOpen.description, p.priceCurrent.description,
      p.profit.description, p.storage.description, p.timeCreate.brokerMilliseconds, utc(p.timeCreate),
      p.timeUpdate.brokerMilliseconds, utc(p.timeUpdate), p.comment, seq,
    ])
  }

  private func closePosition(_ p: Position, server: Int64, seq: Int64) throws {
    let position = Int64(truncatingIfNeeded: p.position)
    try db.cachedStatement(sql: LedgerStatements.deletePosition).execute(arguments: [server, position, seq])
    try db.cachedStatement(sql: LedgerStatements.recordPositionClosure).execute(arguments: [server, position, seq])
  }

  private func upsertTrade(_ t: Trade, server: Int64, seq: Int64) throws {
    let deleted = t.mode == .update(.delete)
    let isMoney = t.command == .balance || t.command == .credit
    let isOpen = !deleted && !isMoney && t.closeTime == nil
    try db.cachedStatement(sql: LedgerStatements.upsertTrade).execute(arguments: [
      server, Int64(t.ticket), Int64(t.login), t.symbol, Int(t.digits), Int(t.command.rawValue), Int64(t.volume),
      t.openTime.brokerMilliseconds / 1000, utc(t.openTime), Int(t.state), t.openPrice.description,
      t.sl.description, t.tp.description, (t.closeTime?.brokerMilliseconds ?? 0) / 1000, t.closeTime.map(utc),
      t.closePrice.description, t.commission.description, t.storage.description, t.profit.description,
      t.taxes.description, Int64(t.magic), t.comment, t.timestamp.brokerMilliseconds / 1000, isOpen, deleted,
      Int(t.mode?.rawValue ?? 0), seq,
    ])
    if let type = t.balanceOperationType {
      let time = t.closeTime ?? t.openTime
      try db.cachedStatement(sql: LedgerStatements.upsertBalanceOperation).execute(arguments: [
        server, Int64(t.ticket), "mt4_trade", Int64(t.login), type.rawValue, Int(t.command.rawValue),
        t.profit.description, time.brokerMilliseconds, utc(time), t.comment, deleted, seq,
      ])
    }
    if let user = t.user {
      try db.cachedStatement(sql: LedgerStatements.upsertAccountFromTradeUser).execute(arguments: [
        server, Int64(user.login), user.group, user.name, Int(user.leverage), user.balance.description,
        user.credit.description, seq,
      ])
    }
  }

  private func utc(_ time: BrokerTime) -> String {
    UTCTime.text(millisecondsSinceEpoch: time.utcMilliseconds)
  }
}
