import Logging
import NIOCore
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
  /// Statements sent and not yet waited for (``send(_:)``).
  private var pipelined: [EventLoopFuture<PostgresQueryResult>] = []

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
  ///
  /// The batch is planned as if every admitted event were new (the usual case: rows
  /// above the durable sequence are not in `events`). When that plan is only
  /// upserts, the `events` insert and the upserts are one statement, the upserts
  /// conditional on every row being inserted (``eventRowsAndUpserts``); else the
  /// insert is sent and the upserts built while PostgreSQL runs it, and sent once it
  /// answers with exactly those sequences. Any other answer: the batch is planned
  /// again from it and written as before. The plan that is written is always the
  /// one for the events actually inserted.
  mutating func apply(_ batch: LedgerBatch) async throws {
    let serverId = batch.serverId
    let last = try await durableSequence(of: serverId, utcOffsetMinutes: batch.events.first?.utcOffsetMinutes ?? 0)
    let admission = LedgerPlanner.admit(batch, durable: last)
    var inserted: Set<UInt64> = []
    var speculated: LedgerProjectionPlan? = nil
    if !admission.admitted.isEmpty {
      let events = admission.admitted.map { index in
        (batch.events[index], index < batch.encodedEvents.count ? batch.encodedEvents[index] : nil)
      }
      let assumed = Set(admission.admitted.map { batch.events[$0].sequence })
      let guess = LedgerPlanner.project(batch, admission, durable: last, inserted: assumed)
      let held = guess.writes.allSatisfy(\.isHeldInBatch)
      if held {
        deferWrites(server: Int64(serverId))
        for write in guess.writes { hold(write) }
      }
      // The batch in one statement when it can be; else the events insert now and
      // the upserts built while PostgreSQL runs it.
      var prepared: [PostgresQuery]? = nil
      let answer: EventLoopFuture<PostgresQueryResult>
      if held, let statement = eventRowsAndUpserts(events, server: Int64(serverId), expected: assumed.count) {
        answer = sent(statement)
        prepared = []
      } else {
        answer = sent(eventRowsInsert(events, server: Int64(serverId)))
        if held { prepared = try deferredStatements() }
      }
      discardDeferred()
      try await surfacingPipelinedErrors {
        for row in try await answer.get().rows { inserted.insert(UInt64(truncatingIfNeeded: try row.decode(Int64.self))) }
      }
      if inserted == assumed, let prepared {
        for statement in prepared { send(statement) }
        speculated = guess
      }
    }
    let applied: LedgerProjectionPlan
    if let speculated {
      applied = speculated
    } else {
      applied = LedgerPlanner.project(batch, admission, durable: last, inserted: inserted)
      deferWrites(server: Int64(serverId))
      for write in applied.writes { try await execute(write) }
      try await flushDeferred(pipelining: true)
    }
    record(applied, of: serverId)
  }

  /// Counts a written plan; the server's durable sequence and UTC offset move.
  private mutating func record(_ plan: LedgerProjectionPlan, of serverId: UInt32) {
    counts.appliedEvents += plan.appliedEvents
    counts.duplicateEvents += plan.duplicateEvents
    counts.quarantinedEvents += plan.quarantinedEvents
    if let offset = plan.utcOffsetMinutes { offsets[serverId] = offset }
    durable[serverId] = plan.durableSequence
  }

  /// A batch planned as if all its admitted events were new, in one statement
  /// (``eventRowsAndUpserts``), not sent.
  private struct Prepared {
    let serverId: UInt32
    let last: UInt64
    let admission: LedgerAdmission
    let assumed: Set<UInt64>
    let guess: LedgerProjectionPlan
    let statement: PostgresQuery
  }

  /// nil when the batch's plan is not only upserts and closes-free, or admits nothing:
  /// such a batch goes through ``apply(_:)``. No statement is run.
  private mutating func prepare(_ batch: LedgerBatch, last: UInt64) -> Prepared? {
    let admission = LedgerPlanner.admit(batch, durable: last)
    guard !admission.admitted.isEmpty else { return nil }
    let assumed = Set(admission.admitted.map { batch.events[$0].sequence })
    let guess = LedgerPlanner.project(batch, admission, durable: last, inserted: assumed)
    guard guess.writes.allSatisfy(\.isHeldInBatch) else { return nil }
    deferWrites(server: Int64(batch.serverId))
    for write in guess.writes { hold(write) }
    let events = admission.admitted.map { index in
      (batch.events[index], index < batch.encodedEvents.count ? batch.encodedEvents[index] : nil)
    }
    let statement = eventRowsAndUpserts(events, server: Int64(batch.serverId), expected: assumed.count)
    discardDeferred()
    guard let statement else { return nil }
    return Prepared(
      serverId: batch.serverId, last: last, admission: admission, assumed: assumed, guess: guess, statement: statement)
  }

  /// Applies a commit's batches in order, like ``apply(_:)`` one by one, with the
  /// next batch planned and its statement built while PostgreSQL runs the current
  /// one (as if the current one inserts every event it admits; when it does not,
  /// the next batch is planned again). A batch's statement is sent only after the
  /// previous batch's answer, so the writes keep the batches' order.
  mutating func apply(_ batches: [LedgerBatch]) async throws {
    var ahead: Prepared? = nil
    for (index, batch) in batches.enumerated() {
      let serverId = batch.serverId
      let last = try await durableSequence(of: serverId, utcOffsetMinutes: batch.events.first?.utcOffsetMinutes ?? 0)
      let planned = ahead.flatMap { $0.serverId == serverId && $0.last == last ? $0 : nil } ?? prepare(batch, last: last)
      ahead = nil
      guard let current = planned else {
        try await apply(batch)
        continue
      }
      let answer = sent(current.statement)
      if index + 1 < batches.count {
        let next = batches[index + 1]
        if let nextLast = next.serverId == serverId ? current.guess.durableSequence : durable[next.serverId] {
          ahead = prepare(next, last: nextLast)
        }
      }
      var inserted: Set<UInt64> = []
      try await surfacingPipelinedErrors {
        for row in try await answer.get().rows { inserted.insert(UInt64(truncatingIfNeeded: try row.decode(Int64.self))) }
      }
      if inserted == current.assumed {
        record(current.guess, of: serverId)
        continue
      }
      // Some event was already there: the statement's upserts wrote nothing.
      ahead = nil
      let plan = LedgerPlanner.project(batch, current.admission, durable: current.last, inserted: inserted)
      deferWrites(server: Int64(serverId))
      for write in plan.writes { try await execute(write) }
      try await flushDeferred(pipelining: true)
      record(plan, of: serverId)
    }
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
      send("""
        UPDATE servers SET last_seq = greatest(last_seq, \(Int64(truncatingIfNeeded: seq))),
          utc_offset_minutes = coalesce(\(offset), utc_offset_minutes) WHERE id = \(Int64(serverId))
        """)
    }
    try await settle()
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
    try await surfacingPipelinedErrors {
      for try await _ in try await connection.query(query, logger: logger) { rows += 1 }
    }
    return rows
  }

  /// Sends a statement whose answer nobody reads without waiting for it (pipelined:
  /// postgres-nio queues it on the connection, in order, and the writer prepares the
  /// next statement meanwhile). ``settle()`` waits for all of them; the transaction
  /// does not commit before it (``finish()``), so nothing is acknowledged earlier.
  private mutating func send(_ query: PostgresQuery) {
    pipelined.append(sent(query))
  }

  /// Sends a statement now (queued on the connection behind those already sent);
  /// its answer when it comes.
  private func sent(_ query: PostgresQuery) -> EventLoopFuture<PostgresQueryResult> {
    connection.query(query, logger: logger)
  }

  /// Waits for every statement ``send(_:)`` sent; throws the first one's error.
  mutating func settle() async throws {
    let sent = pipelined
    pipelined = []
    var firstError: (any Error)? = nil
    for statement in sent {
      do { _ = try await statement.get() } catch { if firstError == nil { firstError = error } }
    }
    if let firstError { throw firstError }
  }

  /// Runs a statement that is awaited; when it fails, a pipelined statement that
  /// failed before it is the cause (PostgreSQL refuses the rest of an aborted
  /// transaction), so that one's error is thrown.
  private func surfacingPipelinedErrors(_ body: () async throws -> Void) async throws {
    do {
      try await body()
    } catch {
      for statement in pipelined {
        do { _ = try await statement.get() } catch let cause { throw cause }
      }
      throw error
    }
  }

  /// The first column of the first row. Every row is read: a row stream left
  /// unfinished would hold the connection (the next statement would wait forever).
  func int(_ query: PostgresQuery) async throws -> Int64? {
    var first: Int64?? = nil
    try await surfacingPipelinedErrors {
      for try await value in try await connection.query(query, logger: logger).decode(Int64?.self) where first == nil {
        first = value
      }
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

  /// The insert of one server's audit rows, one statement, in sequence order (the
  /// change feed's trigger appends in that order); it returns the sequences inserted
  /// (one already in `events` is skipped by `ON CONFLICT DO NOTHING`).
  private func eventRowsInsert(_ events: [(Event, [UInt8]?)], server: Int64) -> PostgresQuery {
    var q = PostgresSQL()
    appendEventRowsInsert(events, server: server, to: &q)
    return q.query
  }

  /// ``eventRowsInsert(_:server:)`` written at the end of `q`.
  private func appendEventRowsInsert(_ events: [(Event, [UInt8]?)], server: Int64, to q: inout PostgresSQL) {
    var seqs: [Int64] = [], kinds: [String] = [], hasTime: [Bool] = [], times: [Int64] = [], utcs: [String] = []
    var summaries: [String] = [], hasBody: [Bool] = [], bodies: [[UInt8]?] = []
    for (event, encoded) in events {
      let time = event.body.primaryTime
      seqs.append(Int64(truncatingIfNeeded: event.sequence))
      kinds.append(event.ledgerKind)
      hasTime.append(time != nil)
      times.append(time?.brokerMilliseconds ?? 0)
      utcs.append(time.map { UTCTime.text(millisecondsSinceEpoch: $0.utcMilliseconds) } ?? "")
      summaries.append(event.summary)
      hasBody.append(encoded != nil)
      bodies.append(encoded)
    }
    q.sql("""
      INSERT INTO events (server_id, seq, kind, time_msc, time_utc, received_utc, summary, body)
      SELECT 
      """)
    q.bind(.integer(server))
    q.sql(", s, k, CASE WHEN ht THEN tm END, CASE WHEN ht THEN tu END, ")
    q.bind(.text(receivedUtc))
    q.sql(", sm, CASE WHEN hb THEN b END FROM unnest(")
    q.bindArray(seqs); q.sql("::bigint[], ")
    q.bindArray(kinds); q.sql("::text[], ")
    q.bindArray(hasTime); q.sql("::bool[], ")
    q.bindArray(times); q.sql("::bigint[], ")
    q.bindArray(utcs); q.sql("::text[], ")
    q.bindArray(summaries); q.sql("::text[], ")
    q.bindArray(hasBody); q.sql("::bool[], ")
    q.bindArray(bodies); q.sql("::bytea[]")
    q.sql(") WITH ORDINALITY AS u(s, k, ht, tm, tu, sm, hb, b, n) ORDER BY n")
    q.sql(" ON CONFLICT (server_id, seq) DO NOTHING RETURNING seq")
  }

  /// One statement for a batch whose writes are all held upserts (no closure): the
  /// `events` insert as `WITH e AS (... RETURNING seq)`, then one `WITH` entry per
  /// table and shape, each writing only if `e` inserted all `expected` rows; it
  /// returns the sequences inserted. When some event was already there, the upserts
  /// write nothing (the condition is false for every row) and the caller plans the
  /// batch again from the answer. One round trip per batch instead of two. nil
  /// when the held writes cannot go in one statement.
  private func eventRowsAndUpserts(_ events: [(Event, [UInt8]?)], server: Int64, expected: Int) -> PostgresQuery? {
    guard let tables = deferred, deferredClosures.isEmpty else { return nil }
    var upserts: [(LedgerTable, LedgerRowShape, UnnestColumns)] = []
    for table in [LedgerTable.deals, .balanceOperations, .orders, .accounts, .positions, .trades] {
      guard let rows = tables[table], !rows.isEmpty else { continue }
      for shapeRows in Dictionary(grouping: rows.values, by: { $0.shapeId }).values {
        guard let columns = UnnestColumns(shapeRows.map { PostgresRowImage($0) }) else { return nil }
        upserts.append((table, shapeRows[0].shape, columns))
      }
    }
    var q = PostgresSQL("WITH e AS (")
    appendEventRowsInsert(events, server: server, to: &q)
    q.sql(")")
    for (index, (table, shape, columns)) in upserts.enumerated() {
      q.sql(", w\(index) AS (")
      columns.appendUpsert(
        into: table.rawValue, conflict: shape.conflict, filter: table == .positions ? Self.openPositionFilter(shape) : nil,
        correcting: correcting,
        onlyIf: { q in
          q.sql("(SELECT count(*) FROM e) = ")
          q.bind(.integer(Int64(expected)))
        }, to: &q)
      q.sql(")")
    }
    q.sql(" SELECT seq FROM e")
    return q.query
  }

  // MARK: - The plan's writes

  private mutating func execute(_ write: LedgerWrite) async throws {
    switch write {
    case .upsert(let row):
      if row.shape.insertOnly {
        // A gateway row: written once, in plan order (the first stays, as on SQLite).
        return send(PostgresRowImage(row).insertOnce(into: row.shape.table.rawValue))
      }
      if deferred != nil { return hold(write) }
      try await upsert(row)
    case .closePosition(let server, let position, let seq):
      if deferred != nil { return hold(write) }
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

  /// Holds an upsert or a close while deferring (no statement; see ``flushDeferred(pipelining:)``).
  private mutating func hold(_ write: LedgerWrite) {
    switch write {
    case .upsert(let row):
      let table = row.shape.table
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
    case .closePosition(_, let position, let seq):
      // The newest close wins; an open older than it is dropped now (it would be deleted).
      deferredClosures[position] = max(deferredClosures[position] ?? seq, seq)
      if let held = deferred?[.positions]?[position], held.updatedSeq < seq { deferred?[.positions]?[position] = nil }
    case .gap, .quarantine:
      preconditionFailure("only upserts and closes are held")
    }
  }

  private mutating func upsert(_ row: LedgerRowImage) async throws {
    let table = row.shape.table
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

  /// - Parameter pipelining: send the statements without waiting (the stream's
  ///   commit, which ``finish()`` settles); else wait for them (reconciliation).
  mutating func flushDeferred(pipelining: Bool = false) async throws {
    guard deferred != nil else { return }
    if let statements = try deferredStatements() {
      discardDeferred()
      for statement in statements { send(statement) }
      if !pipelining { try await settle() }
      return
    }
    try await flushDeferredRowByRow()
    if !pipelining { try await settle() }
  }

  /// Forgets the held writes.
  mutating func discardDeferred() {
    deferred = nil
    deferredClosures = [:]
  }

  /// The statements that write the held upserts and closures, built and not sent:
  /// the closures, the deletes of older rows, then one upsert per table and shape.
  /// nil when some rows must be written one by one (``PostgresRowImage/upsertMany``).
  func deferredStatements() throws -> [PostgresQuery]? {
    guard let tables = deferred else { return [] }
    var statements: [PostgresQuery] = []
    if !deferredClosures.isEmpty, let server = serverOfDeferred {
      // Positions closed in this batch: the closure (newest seq), then the row when
      // older than the close, exactly as closing them one by one does.
      let keys = Array(deferredClosures.keys), seqs = keys.map { deferredClosures[$0]! }
      var q = PostgresSQL("INSERT INTO position_closures (server_id, position, closed_seq) SELECT ")
      q.bind(.integer(server))
      q.sql(", p, c FROM unnest(")
      q.bindArray(keys); q.sql("::bigint[], ")
      q.bindArray(seqs); q.sql("::bigint[]) AS u(p, c)")
      q.sql(" ON CONFLICT (server_id, position) DO UPDATE SET")
      q.sql(" closed_seq = greatest(position_closures.closed_seq, excluded.closed_seq)")
      statements.append(q.query)
      var d = PostgresSQL("DELETE FROM positions USING unnest(")
      d.bindArray(keys); d.sql("::bigint[], ")
      d.bindArray(seqs); d.sql("::bigint[]) AS u(p, c) WHERE positions.server_id = ")
      d.bind(.integer(server))
      d.sql(" AND positions.position = u.p AND positions.updated_seq < u.c")
      statements.append(d.query)
    }
    for table in [LedgerTable.deals, .balanceOperations, .orders, .accounts, .positions, .trades] {
      guard let rows = tables[table], !rows.isEmpty else { continue }
      // Rows of one shape per statement (accounts: full user rows, and MT4 partial ones).
      for shapeRows in Dictionary(grouping: rows.values, by: { $0.shapeId }).values {
        let shape = shapeRows[0].shape
        let filter = table == .positions ? Self.openPositionFilter(shape) : nil
        guard let query = try PostgresRowImage.upsertMany(
          shapeRows.map { PostgresRowImage($0) }, into: table.rawValue, conflict: shape.conflict, filter: filter,
          correcting: correcting)
        else { return nil }
        statements.append(query)
      }
    }
    return statements
  }

  /// A position closed by a newer event (now, or in an earlier batch) stays closed.
  static func openPositionFilter(_ shape: LedgerRowShape) -> String {
    "NOT EXISTS (SELECT 1 FROM position_closures pc WHERE pc.server_id = u.c0 AND pc.position = u.c1 AND pc.closed_seq > u.c\(shape.columns.count - 1))"
  }

  /// ``flushDeferred(pipelining:)`` when some rows must be written one by one.
  private mutating func flushDeferredRowByRow() async throws {
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
      q.bindArray(keys); q.sql("::bigint[], ")
      q.bindArray(seqs); q.sql("::bigint[]) AS u(p, c)")
      q.sql(" ON CONFLICT (server_id, position) DO UPDATE SET")
      q.sql(" closed_seq = greatest(position_closures.closed_seq, excluded.closed_seq)")
      send(q.query)
      var d = PostgresSQL("DELETE FROM positions USING unnest(")
      d.bindArray(keys); d.sql("::bigint[], ")
      d.bindArray(seqs); d.sql("::bigint[]) AS u(p, c) WHERE positions.server_id = ")
      d.bind(.integer(server))
      d.sql(" AND positions.position = u.p AND positions.updated_seq < u.c")
      send(d.query)
    }
    for table in [LedgerTable.deals, .balanceOperations, .orders, .accounts, .positions, .trades] {
      guard let rows = tables[table], !rows.isEmpty else { continue }
      // Rows of one shape per statement (accounts: full user rows, and MT4 partial ones).
      for shapeRows in Dictionary(grouping: rows.values, by: { $0.shapeId }).values {
        let shape = shapeRows[0].shape
        let images = shapeRows.map { PostgresRowImage($0) }
        let filter = table == .positions ? Self.openPositionFilter(shape) : nil
        if let query = try PostgresRowImage.upsertMany(
          images, into: table.rawValue, conflict: shape.conflict, filter: filter, correcting: correcting)
        {
          send(query)
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

extension LedgerWrite {
  /// Held by ``PostgresProjection`` while deferring (no statement of its own).
  var isHeldInBatch: Bool {
    switch self {
    case .upsert(let row): !row.shape.insertOnly
    case .closePosition: true
    case .gap, .quarantine: false
    }
  }
}

extension LedgerCell {
  var postgresInteger: Int64 {
    if case .integer(let value) = self { return value }
    return 0
  }
}
