import Logging
import PostgresNIO
import TradeTapEvents
import TradeTapLedger

/// Executes the ledger core's plans (``LedgerPlanner``) on PostgreSQL inside one
/// open transaction: the rules are the core's; this file chooses the statements.
/// Within a batch, guarded upserts are held per table and key and written with one
/// statement per table (``flushDeferred()``): applying them one by one would leave
/// the newest row per key, so one upsert of that row per key does the same. Round
/// trips, not rows, bound the rate of a networked database.
struct PostgresProjection {
  let connection: PostgresConnection
  let logger: Logger
  let receivedUtc: String
  /// Reconciliation writes at the durable sequence: its upserts also replace rows of that same `updated_seq`.
  var correcting = false
  private var durable: [UInt32: UInt64] = [:]
  /// Upserts held for one statement per table, by platform key, the newest row
  /// only. nil: write at once.
  private var deferred: [LedgerTable: [Int64: LedgerRowImage]]? = nil
  /// Positions closed while deferring, by position, the newest close.
  private var deferredClosures: [Int64: Int64] = [:]
  private var serverOfDeferred: Int64? = nil

  private var offsets: [UInt32: Int32] = [:]
  var counts = LedgerCommit(
    durableSequence: [:], appliedEvents: 0, duplicateEvents: 0, quarantinedEvents: 0, gapsRecorded: 0)

  init(connection: PostgresConnection, logger: Logger, receivedUtc: String, correcting: Bool = false) {
    self.connection = connection
    self.logger = logger
    self.receivedUtc = receivedUtc
    self.correcting = correcting
  }

  /// Applies one server's batch with a handful of statements whatever its size:
  /// the audit rows in one multi-row insert, then the plan's writes, upserts held
  /// and flushed one statement per table.
  mutating func apply(_ batch: LedgerBatch) async throws {
    let serverId = batch.serverId
    let last = try await durableSequence(of: serverId, utcOffsetMinutes: batch.events.first?.utcOffsetMinutes ?? 0)
    let admission = LedgerPlanner.admit(batch, durable: last)
    var inserted: Set<UInt64> = []
    if !admission.admitted.isEmpty {
      inserted = try await insertEventRows(admission.admitted.map { index in
        (batch.events[index], index < batch.encodedEvents.count ? batch.encodedEvents[index] : nil)
      })
    }
    let plan = LedgerPlanner.project(batch, admission, durable: last, inserted: inserted)
    deferWrites(server: Int64(serverId))
    for write in plan.writes { try await execute(write) }
    try await flushDeferred()
    counts.appliedEvents += plan.appliedEvents
    counts.duplicateEvents += plan.duplicateEvents
    counts.quarantinedEvents += plan.quarantinedEvents
    if let offset = plan.utcOffsetMinutes { offsets[serverId] = offset }
    durable[serverId] = plan.durableSequence
  }

  mutating func recordGap(_ notice: ReportedGap) async throws {
    _ = try await durableSequence(of: notice.serverId, utcOffsetMinutes: 0)
    try await execute(.gap(
      serverId: notice.serverId, first: notice.firstSequence, last: notice.lastSequence, reason: notice.reason,
      refusedEvents: nil, unlessCovered: false))
  }

  mutating func finish() async throws -> LedgerCommit {
    for (serverId, seq) in durable {
      let offset = offsets[serverId].map { Int64($0) }
      try await run("""
        UPDATE servers SET last_seq = greatest(last_seq, \(Int64(truncatingIfNeeded: seq))),
          utc_offset_minutes = coalesce(\(offset), utc_offset_minutes) WHERE id = \(Int64(serverId))
        """)
    }
    counts.durableSequence = durable
    return counts
  }

  /// Writes one event's rows (reconciliation's corrections; no `events` row).
  mutating func project(_ event: Event) async throws {
    for write in LedgerPlanner.writes(for: event) { try await execute(write) }
  }

  // MARK: - Servers and the event stream

  @discardableResult
  func run(_ query: PostgresQuery) async throws -> Int {
    var rows = 0
    for try await _ in try await connection.query(query, logger: logger) { rows += 1 }
    return rows
  }

  /// The first column of the first row. Every row is read: a row stream left
  /// unfinished would hold the connection (the next statement would wait forever).
  func int(_ query: PostgresQuery) async throws -> Int64? {
    var first: Int64?? = nil
    for try await value in try await connection.query(query, logger: logger).decode(Int64?.self) where first == nil {
      first = value
    }
    return first ?? nil
  }

  private mutating func durableSequence(of serverId: UInt32, utcOffsetMinutes: Int32) async throws -> UInt64 {
    if let known = durable[serverId] { return known }
    let server = Int64(serverId)
    try await run("""
      INSERT INTO servers (id, utc_offset_minutes) VALUES (\(server), \(Int64(utcOffsetMinutes))) ON CONFLICT DO NOTHING
      """)
    let seq = UInt64(max(0, try await int("SELECT last_seq FROM servers WHERE id = \(server)") ?? 0))
    durable[serverId] = seq
    return seq
  }

  /// Inserts the audit rows of one server in one statement, in sequence order (the
  /// change feed's trigger appends in that order); returns the sequences inserted
  /// (one already in `events` is skipped by `ON CONFLICT DO NOTHING`).
  private func insertEventRows(_ events: [(Event, [UInt8]?)]) async throws -> Set<UInt64> {
    guard let server = events.first.map({ Int64($0.0.serverId) }) else { return [] }
    var seqs: [Int64] = [], kinds: [String] = [], hasTime: [Bool] = [], times: [Int64] = [], utcs: [String] = []
    var summaries: [String] = [], hasBody: [Bool] = [], bodies: [ByteBuffer] = []
    for (event, encoded) in events {
      let time = event.body.primaryTime
      seqs.append(Int64(truncatingIfNeeded: event.sequence))
      kinds.append(event.ledgerKind)
      hasTime.append(time != nil)
      times.append(time?.brokerMilliseconds ?? 0)
      utcs.append(time.map { UTCTime.text(millisecondsSinceEpoch: $0.utcMilliseconds) } ?? "")
      summaries.append(event.summary)
      hasBody.append(encoded != nil)
      bodies.append(ByteBuffer(bytes: encoded ?? []))
    }
    var q = PostgresSQL("""
      INSERT INTO events (server_id, seq, kind, time_msc, time_utc, received_utc, summary, body)
      SELECT 
      """)
    q.bind(.integer(server))
    q.sql(", s, k, CASE WHEN ht THEN tm END, CASE WHEN ht THEN tu END, ")
    q.bind(.text(receivedUtc))
    q.sql(", sm, CASE WHEN hb THEN b END FROM unnest(")
    try q.bindArray(seqs); q.sql("::bigint[], ")
    try q.bindArray(kinds); q.sql("::text[], ")
    try q.bindArray(hasTime); q.sql("::bool[], ")
    try q.bindArray(times); q.sql("::bigint[], ")
    try q.bindArray(utcs); q.sql("::text[], ")
    try q.bindArray(summaries); q.sql("::text[], ")
    try q.bindArray(hasBody); q.sql("::bool[], ")
    try q.bindArray(bodies); q.sql("::bytea[]")
    q.sql(") WITH ORDINALITY AS u(s, k, ht, tm, tu, sm, hb, b, n) ORDER BY n")
    q.sql(" ON CONFLICT (server_id, seq) DO NOTHING RETURNING seq")
    var inserted: Set<UInt64> = []
    for try await seq in try await connection.query(q.query, logger: logger).decode(Int64.self) {
      inserted.insert(UInt64(truncatingIfNeeded: seq))
    }
    return inserted
  }

  // MARK: - The plan's writes

  private mutating func execute(_ write: LedgerWrite) async throws {
    switch write {
    case .upsert(let row):
      try await upsert(row)
    case .closePosition(let server, let position, let seq):
      if deferred != nil {
        // The newest close wins; an open older than it is dropped now (it would be deleted).
        deferredClosures[position] = max(deferredClosures[position] ?? seq, seq)
        if let held = deferred?[.positions]?[position], held.updatedSeq < seq { deferred?[.positions]?[position] = nil }
        return
      }
      try await run("DELETE FROM positions WHERE server_id = \(server) AND position = \(position) AND updated_seq < \(seq)")
      try await run("""
        INSERT INTO position_closures (server_id, position, closed_seq) VALUES (\(server), \(position), \(seq))
        ON CONFLICT (server_id, position) DO UPDATE SET
          closed_seq = greatest(position_closures.closed_seq, excluded.closed_seq)
        """)
    case .gap(let serverId, let first, let last, let reason, let refusedEvents, let unlessCovered):
      if unlessCovered, try await run("""
        SELECT 1 FROM gaps WHERE server_id = \(Int64(serverId)) AND first_seq <= \(Int64(truncatingIfNeeded: first))
          AND last_seq >= \(Int64(truncatingIfNeeded: last)) LIMIT 1
        """) > 0
      {
        return
      }
      let inserted = try await run("""
        INSERT INTO gaps (server_id, first_seq, last_seq, reason, detected_utc, refused_events)
        VALUES (\(Int64(serverId)), \(Int64(truncatingIfNeeded: first)), \(Int64(truncatingIfNeeded: last)), \(reason),
          \(receivedUtc), \(refusedEvents.map { Int64(clamping: $0) }))
        ON CONFLICT DO NOTHING RETURNING id
        """)
      if inserted > 0 { counts.gapsRecorded += 1 }
    case .quarantine(let server, let seq, let kind, let reason, let body):
      let bytes = ByteBuffer(bytes: body)
      try await run("""
        INSERT INTO quarantine (server_id, seq, kind, reason, body, received_utc)
        VALUES (\(server), \(seq), \(kind.ledgerName), \(reason), \(bytes), \(receivedUtc))
        ON CONFLICT DO NOTHING
        """)
    }
  }

  private mutating func upsert(_ row: LedgerRowImage) async throws {
    let table = row.shape.table
    if deferred != nil {
      let key = row.key
      if let held = deferred?[table]?[key] {
        guard row.updatedSeq > held.updatedSeq || (correcting && row.updatedSeq == held.updatedSeq) else { return }
        // An MT4 trade writes part of an account row: merged into the row held for
        // that login, as applying it after would.
        if row.values.count < held.values.count {
          deferred?[table]?[key] = row.merged(over: held)
          return
        }
      }
      deferred?[table, default: [:]][key] = row
      return
    }
    let shape = row.shape
    if shape.id == LedgerRowShape.position.id, let closedSeq = try await int(
      "SELECT closed_seq FROM position_closures WHERE server_id = \(row.values[0].postgresInteger) AND position = \(row.key)"),
      closedSeq > row.updatedSeq
    {
      return  // a position closed by a newer event stays closed
    }
    try await run(PostgresRowImage(row).upsert(into: shape.table.rawValue, conflict: shape.conflict, correcting: correcting))
  }

  /// Holds upserts for one statement per table until ``flushDeferred()``.
  mutating func deferWrites(server: Int64) {
    deferred = [:]
    deferredClosures = [:]
    serverOfDeferred = server
  }

  mutating func flushDeferred() async throws {
    guard let tables = deferred else { return }
    deferred = nil
    let closures = deferredClosures
    deferredClosures = [:]
    if !closures.isEmpty, let server = serverOfDeferred {
      // Positions closed in this batch: the closure (newest seq), then the row when
      // older than the close, exactly as closing them one by one does.
      let keys = Array(closures.keys), seqs = keys.map { closures[$0]! }
      var q = PostgresSQL("INSERT INTO position_closures (server_id, position, closed_seq) SELECT ")
      q.bind(.integer(server))
      q.sql(", p, c FROM unnest(")
      try q.bindArray(keys); q.sql("::bigint[], ")
      try q.bindArray(seqs); q.sql("::bigint[]) AS u(p, c)")
      q.sql(" ON CONFLICT (server_id, position) DO UPDATE SET")
      q.sql(" closed_seq = greatest(position_closures.closed_seq, excluded.closed_seq)")
      try await run(q.query)
      var d = PostgresSQL("DELETE FROM positions USING unnest(")
      try d.bindArray(keys); d.sql("::bigint[], ")
      try d.bindArray(seqs); d.sql("::bigint[]) AS u(p, c) WHERE positions.server_id = ")
      d.bind(.integer(server))
      d.sql(" AND positions.position = u.p AND positions.updated_seq < u.c")
      try await run(d.query)
    }
    for table in [LedgerTable.deals, .balanceOperations, .orders, .accounts, .positions, .trades] {
      guard let rows = tables[table], !rows.isEmpty else { continue }
      // Rows of one shape per statement (accounts: full user rows, and MT4 partial ones).
      for shapeRows in Dictionary(grouping: rows.values, by: { $0.shapeId }).values {
        let shape = shapeRows[0].shape
        let images = shapeRows.map { PostgresRowImage($0) }
        // A position closed by a newer event (now, or in an earlier batch) stays closed.
        let filter = table == .positions
          ? "NOT EXISTS (SELECT 1 FROM position_closures pc WHERE pc.server_id = u.c0 AND pc.position = u.c1 AND pc.closed_seq > u.c\(shape.columns.count - 1))"
          : nil
        if let query = try PostgresRowImage.upsertMany(
          images, into: table.rawValue, conflict: shape.conflict, filter: filter, correcting: correcting)
        {
          try await run(query)
          continue
        }
        for row in shapeRows {
          if table == .positions, let server = serverOfDeferred,
            (try await int("SELECT closed_seq FROM position_closures WHERE server_id = \(server) AND position = \(row.key)") ?? -1)
              > row.updatedSeq
          {
            continue
          }
          try await run(PostgresRowImage(row).upsert(into: table.rawValue, conflict: shape.conflict, correcting: correcting))
        }
      }
    }
  }
}

extension LedgerCell {
  var postgresInteger: Int64 {
    if case .integer(let value) = self { return value }
    return 0
  }
}
