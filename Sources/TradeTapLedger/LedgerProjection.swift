import Foundation
import GRDB
import TradeTapEvents

/// Executes the ledger core's plans (``LedgerPlanner``) on SQLite inside one open
/// write transaction: the rules are the core's, this file only binds them.
///
/// Keeps each touched server's durable sequence number in memory for the length
/// of the transaction and writes it back once in ``finish()``.
struct LedgerProjection {
  let db: Database
  let receivedUtc: String
  let correcting: Bool
  private var insertEvent: RawStatement
  /// One prepared upsert per ``LedgerRowShape`` (by its id).
  private var upserts: [RawStatement]
  private var durable: [UInt32: UInt64] = [:]
  private var offsets: [UInt32: Int32] = [:]
  private var counts = LedgerCommit(
    durableSequence: [:], appliedEvents: 0, duplicateEvents: 0, quarantinedEvents: 0, gapsRecorded: 0)

  /// - Parameter correcting: reconciliation writes platform state at the durable
  ///   sequence, so its upserts also replace rows of that same `updated_seq`.
  init(db: Database, receivedUtc: String, correcting: Bool = false) throws {
    self.db = db
    self.receivedUtc = receivedUtc
    self.correcting = correcting
    insertEvent = try RawStatement(db, LedgerStatements.insertEvent)
    upserts = try (correcting ? LedgerStatements.shapeCorrections : LedgerStatements.shapeUpserts).map {
      try RawStatement(db, $0)
    }
  }

  mutating func apply(_ batch: LedgerBatch) throws {
    let serverId = batch.serverId
    let last = try durableSequence(of: serverId, utcOffsetMinutes: batch.events.first?.utcOffsetMinutes ?? 0)
    let admission = LedgerPlanner.admit(batch, durable: last)
    var inserted = Set<UInt64>(minimumCapacity: admission.admitted.count)
    for index in admission.admitted {
      let event = batch.events[index]
      let encoded = index < batch.encodedEvents.count ? batch.encodedEvents[index] : nil
      if try insertEventRow(event, encoded: encoded) { inserted.insert(event.sequence) }
    }
    let plan = LedgerPlanner.project(batch, admission, durable: last, inserted: inserted)
    for write in plan.writes { try execute(write) }
    counts.appliedEvents += plan.appliedEvents
    counts.duplicateEvents += plan.duplicateEvents
    counts.quarantinedEvents += plan.quarantinedEvents
    if let offset = plan.utcOffsetMinutes { offsets[serverId] = offset }
    durable[serverId] = plan.durableSequence
  }

  mutating func recordGap(_ notice: ReportedGap) throws {
    _ = try durableSequence(of: notice.serverId, utcOffsetMinutes: 0)
    try execute(.gap(
      serverId: notice.serverId, first: notice.firstSequence, last: notice.lastSequence, reason: notice.reason,
      refusedEvents: nil, unlessCovered: false))
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

  /// Writes one event's rows (reconciliation's corrections; no `events` row).
  mutating func project(_ event: Event) throws {
    for write in LedgerPlanner.writes(for: event) { try execute(write) }
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

  // MARK: - The plan's writes

  private mutating func execute(_ write: LedgerWrite) throws {
    switch write {
    case .upsert(let row):
      if row.shapeId == LedgerRowShape.position.id {
        // A position closed by a newer event stays closed.
        let closedSeq = try Int64.fetchOne(
          db.cachedStatement(sql: LedgerStatements.positionClosedSeq), arguments: [row.values[0].integerValue, row.key])
        if let closedSeq, closedSeq > row.updatedSeq { return }
      }
      var st = upserts[row.shapeId]
      defer { upserts[row.shapeId] = st }
      for cell in row.values { st.bind(cell) }
      try st.step()
    case .closePosition(let server, let position, let seq):
      try db.cachedStatement(sql: LedgerStatements.deletePosition).execute(arguments: [server, position, seq])
      try db.cachedStatement(sql: LedgerStatements.recordPositionClosure).execute(arguments: [server, position, seq])
    case .gap(let serverId, let first, let last, let reason, let refusedEvents, let unlessCovered):
      if unlessCovered, try gapIsCovered(serverId: serverId, first: first, last: last) { return }
      try db.cachedStatement(sql: LedgerStatements.insertGap).execute(arguments: [
        Int64(serverId), Int64(truncatingIfNeeded: first), Int64(truncatingIfNeeded: last), reason, receivedUtc,
        refusedEvents.map { Int64(clamping: $0) },
      ])
      if db.changesCount > 0 { counts.gapsRecorded += 1 }
    case .quarantine(let server, let seq, let kind, let reason, let body):
      try db.cachedStatement(sql: LedgerStatements.insertQuarantine).execute(arguments: [
        server, seq, kind.ledgerName, reason, Data(body), receivedUtc,
      ])
    }
  }

  /// Whether a stored gap already covers `first...last` (the plugin reported it).
  private func gapIsCovered(serverId: UInt32, first: UInt64, last: UInt64) throws -> Bool {
    try Bool.fetchOne(
      db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM gaps WHERE server_id = ? AND first_seq <= ? AND last_seq >= ?)"),
      arguments: [Int64(serverId), Int64(truncatingIfNeeded: first), Int64(truncatingIfNeeded: last)]) ?? false
  }
}

extension LedgerCell {
  var integerValue: Int64 {
    if case .integer(let value) = self { return value }
    return 0
  }
}

extension RawStatement {
  /// Binds a broker time's UTC text, or NULL.
  mutating func bindUTC(_ time: BrokerTime?) {
    if let time { bindUTC(millisecondsSinceEpoch: time.utcMilliseconds) } else { bindNull() }
  }

  /// Binds one planned value the way the SQLite ledger stores it (money as exact text).
  mutating func bind(_ cell: LedgerCell) {
    switch cell {
    case .integer(let value): bind(value)
    case .text(let value): bind(value)
    case .money(let value): bind(value)
    case .utc(let time): bindUTC(time)
    case .flag(let value): bind(value)
    }
  }
}
