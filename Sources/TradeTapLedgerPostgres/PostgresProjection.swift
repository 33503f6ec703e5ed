import Logging
import PostgresNIO
import TradeTapEvents
import TradeTapLedger

/// Projects events onto the PostgreSQL ledger inside one open transaction: the same
/// rules as the SQLite ledger's projection (docs/ledger.md), statement for statement.
/// - an event at or below the server's durable sequence, or already in `events`
///   (`ON CONFLICT DO NOTHING` returns no row), changes nothing;
/// - every upsert is guarded by `updated_seq`, so an older event never overwrites a
///   newer state; a closed position stays closed against older replays;
/// - a jump in sequence numbers not covered by a reported gap is recorded as one.
struct PostgresProjection {
  let connection: PostgresConnection
  let logger: Logger
  let receivedUtc: String
  /// Reconciliation writes at the durable sequence: its upserts also replace rows of that same `updated_seq`.
  var correcting = false
  private var durable: [UInt32: UInt64] = [:]
  /// Within ``apply(_:)``: deal and balance-operation rows waiting for one upsert per
  /// table, by platform key, the newest event's row only (what row-by-row guarded
  /// upserts would leave). nil: write at once (reconciliation).
  private var deferred: [String: [Int64: PostgresRowImage]]? = nil
  /// Within ``apply(_:)``: positions closed in the batch, by position, the newest close.
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
  /// the audit rows in one multi-row insert, deals and their balance operations in
  /// one upsert each (``PostgresRowImage/upsertMany(_:into:conflict:)``), every other
  /// kind event by event, in sequence order. Round trips, not rows, bound the rate
  /// of a networked database.
  mutating func apply(_ batch: LedgerBatch) async throws {
    let serverId = batch.serverId
    var last = try await durableSequence(of: serverId, utcOffsetMinutes: batch.events.first?.utcOffsetMinutes ?? 0)
    let inOrder = batch.events.indices.dropFirst().allSatisfy {
      batch.events[$0 - 1].sequence < batch.events[$0].sequence
    }
    let ordered = inOrder
      ? Array(batch.events.indices) : batch.events.indices.sorted { batch.events[$0].sequence < batch.events[$1].sequence }
    // Sequence 0 is a snapshot record (reconciliation applies those); at or below the
    // durable sequence, or repeated in the batch: already applied.
    var fresh: [Int] = []
    var highest = last
    for index in ordered {
      let event = batch.events[index]
      guard event.serverId == serverId, event.sequence > highest else {
        counts.duplicateEvents += 1
        continue
      }
      fresh.append(index)
      highest = event.sequence
    }
    guard !fresh.isEmpty else {
      durable[serverId] = last
      return
    }
    let inserted = try await insertEventRows(fresh.map { index in
      (batch.events[index], index < batch.encodedEvents.count ? batch.encodedEvents[index] : nil)
    })
    deferred = [:]
    deferredClosures = [:]
    serverOfDeferred = Int64(serverId)
    for index in fresh {
      let event = batch.events[index]
      guard inserted.contains(event.sequence) else {
        counts.duplicateEvents += 1
        continue
      }
      try await project(event)
      // After the event, so that a gap event naming the same range keeps its own reason.
      // From 0 too: a first event past 1 is a jump like any other (issue 10: a jump
      // never moves the durable point silently).
      if event.sequence > last + 1,
        try await !gapIsKnown(serverId: serverId, first: last + 1, last: event.sequence - 1)
      {
        try await insertGap(serverId: serverId, first: last + 1, last: event.sequence - 1, reason: "not received")
      }
      counts.appliedEvents += 1
      last = event.sequence
      offsets[serverId] = event.utcOffsetMinutes
    }
    try await flushDeferred()
    durable[serverId] = last
  }

  mutating func recordGap(_ notice: ReportedGap) async throws {
    _ = try await durableSequence(of: notice.serverId, utcOffsetMinutes: 0)
    try await insertGap(
      serverId: notice.serverId, first: notice.firstSequence, last: notice.lastSequence, reason: notice.reason)
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

  private func gapIsKnown(serverId: UInt32, first: UInt64, last: UInt64) async throws -> Bool {
    try await run("""
      SELECT 1 FROM gaps WHERE server_id = \(Int64(serverId)) AND first_seq <= \(Int64(truncatingIfNeeded: first))
        AND last_seq >= \(Int64(truncatingIfNeeded: last)) LIMIT 1
      """) > 0
  }

  private mutating func insertGap(
    serverId: UInt32, first: UInt64, last: UInt64, reason: String, refusedEvents: UInt64? = nil
  ) async throws {
    let inserted = try await run("""
      INSERT INTO gaps (server_id, first_seq, last_seq, reason, detected_utc, refused_events)
      VALUES (\(Int64(serverId)), \(Int64(truncatingIfNeeded: first)), \(Int64(truncatingIfNeeded: last)), \(reason),
        \(receivedUtc), \(refusedEvents.map { Int64(clamping: $0) }))
      ON CONFLICT DO NOTHING RETURNING id
      """)
    if inserted > 0 { counts.gapsRecorded += 1 }
  }

  // MARK: - Projection onto the tables

  mutating func project(_ event: Event) async throws {
    let server = Int64(event.serverId)
    let seq = Int64(truncatingIfNeeded: event.sequence)
    switch event.body {
    case .user(let user):
      try await upsertAccount(user, server: server, seq: seq, deleted: event.kind == .userDelete)
    case .deal(let deal):
      try await upsertDeal(deal, server: server, seq: seq, deleted: event.kind == .dealDelete)
    case .order(let order):
      try await upsertOrder(order, server: server, seq: seq, inHistory: event.kind == .orderDelete)
    case .position(let position) where deferred != nil:
      let key = Int64(truncatingIfNeeded: position.position)
      if event.kind == .positionDelete {
        // The newest close wins; an open older than it is dropped now (it would be deleted).
        deferredClosures[key] = max(deferredClosures[key] ?? seq, seq)
        if let held = deferred?["positions"]?[key], case .integer(let heldSeq?) = held.values.last, heldSeq < seq {
          deferred?["positions"]?[key] = nil
        }
      } else {
        try await upsertPosition(position, server: server, seq: seq)
      }
    case .position(let position):
      if event.kind == .positionDelete {
        try await closePosition(position, server: server, seq: seq)
      } else {
        try await upsertPosition(position, server: server, seq: seq)
      }
    case .trade(let trade):
      try await upsertTrade(trade, server: server, seq: seq)
    case .gap(let gap):
      // A filtered sequence is a deliberate hole, not loss: its `events` row is the whole record.
      guard gap.reason.isLoss else { break }
      let last = gap.firstSequence &+ max(gap.count, 1) &- 1
      try await insertGap(serverId: event.serverId, first: gap.firstSequence, last: last, reason: gap.reason.name,
                          refusedEvents: gap.refusedEvents)
    case .quarantine(let quarantine):
      let body = ByteBuffer(bytes: quarantine.rawBytes + quarantine.secondaryBytes)
      try await run("""
        INSERT INTO quarantine (server_id, seq, kind, reason, body, received_utc)
        VALUES (\(server), \(seq), \(quarantine.kind.ledgerName), \(quarantine.reason), \(body), \(receivedUtc))
        ON CONFLICT DO NOTHING
        """)
      counts.quarantinedEvents += 1
    }
  }

  private mutating func upsert(_ row: PostgresRowImage, into table: String, conflict: [String]) async throws {
    // Tables whose every write is a guarded upsert: within a batch (every event newer
    // than the rows it meets), applying them one by one leaves the newest row per key,
    // so one upsert of that row per key does the same. An MT4 trade writes part of an
    // account row: merged into the row held for that login, as applying it after would.
    if deferred != nil, Self.deferrable[table] != nil,
      case .integer(let key?) = row.values[1], case .integer(let seq?) = row.values.last
    {
      if let held = deferred?[table]?[key], case .integer(let heldSeq?) = held.values.last {
        guard seq > heldSeq || (correcting && seq == heldSeq) else { return }
        if row.columns.count < held.columns.count {
          var merged = held
          for (column, value) in zip(row.columns, row.values) {
            if let at = merged.columns.firstIndex(of: column) { merged.values[at] = value }
          }
          deferred?[table]?[key] = merged
          return
        }
      }
      deferred?[table, default: [:]][key] = row
      return
    }
    try await run(row.upsert(into: table, conflict: conflict, correcting: correcting))
  }

  /// Tables written in one statement per batch, with their conflict keys.
  static let deferrable: [String: [String]] = [
    "deals": ["server_id", "deal"], "balance_operations": ["server_id", "ticket"], "orders": ["server_id", "order"],
    "accounts": ["server_id", "login"], "positions": ["server_id", "position"], "trades": ["server_id", "ticket"],
  ]

  /// Holds upserts for one statement per table until ``flushDeferred()`` (a sweep's corrections).
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
    for table in ["deals", "balance_operations", "orders", "accounts", "positions", "trades"] {
      let conflict = Self.deferrable[table]!
      guard let rows = tables[table], !rows.isEmpty else { continue }
      // A position closed by a newer event (now, or in an earlier batch) stays closed.
      let filter = table == "positions"
        ? "NOT EXISTS (SELECT 1 FROM position_closures pc WHERE pc.server_id = u.c0 AND pc.position = u.c1 AND pc.closed_seq > u.c\(rows.values.first!.values.count - 1))"
        : nil
      // Rows of one shape per statement (accounts: full user rows, and MT4 partial ones).
      let shapes = Dictionary(grouping: rows.values, by: { $0.columns.count }).values
      if shapes.count > 1 {
        for shape in shapes {
          if let query = try PostgresRowImage.upsertMany(
            shape, into: table, conflict: conflict, filter: filter, correcting: correcting)
          {
            try await run(query)
          } else {
            for row in shape { try await run(row.upsert(into: table, conflict: conflict, correcting: correcting)) }
          }
        }
        continue
      }
      if let query = try PostgresRowImage.upsertMany(
        Array(rows.values), into: table, conflict: conflict, filter: filter, correcting: correcting)
      {
        try await run(query)
      } else {
        for row in rows.values {
          if table == "positions" {
            guard let server = serverOfDeferred, case .integer(let key?) = row.values[1], case .integer(let seq?) = row.values.last,
              (try await int("SELECT closed_seq FROM position_closures WHERE server_id = \(server) AND position = \(key)") ?? -1) <= seq
            else { continue }
          }
          try await run(row.upsert(into: table, conflict: conflict, correcting: correcting))
        }
      }
    }
  }

  private mutating func upsertAccount(_ u: User, server: Int64, seq: Int64, deleted: Bool) async throws {
    var r = PostgresRowImage()
    r.set("server_id", .integer(server)); r.set("login", .integer(Int64(truncatingIfNeeded: u.login)))
    r.set("group", .text(u.group)); r.set("name", .text(u.name)); r.set("email", .text(u.email))
    r.set("country", .text(u.country)); r.set("currency", .text(u.currency))
    r.set("currency_digits", .integer(Int64(u.currencyDigits))); r.set("balance", .money(u.balance))
    r.set("credit", .money(u.credit)); r.set("margin_mode", .integer(Int64(u.marginMode.rawValue)))
    r.set("leverage", .integer(Int64(u.leverage))); r.set("comment", .text(u.comment))
    r.set("registration_msc", .integer(u.registration.brokerMilliseconds)); r.set("registration_utc", .utc(u.registration))
    r.set("last_update_msc", .integer(u.lastUpdate.brokerMilliseconds)); r.set("last_update_utc", .utc(u.lastUpdate))
    r.set("deleted", .flag(deleted)); r.set("updated_seq", .integer(seq))
    try await upsert(r, into: "accounts", conflict: ["server_id", "login"])
  }

  private mutating func upsertDeal(_ d: Deal, server: Int64, seq: Int64, deleted: Bool) async throws {
    var r = PostgresRowImage()
    r.set("server_id", .integer(server)); r.set("deal", .integer(Int64(truncatingIfNeeded: d.deal)))
    r.set("external_id", .text(d.externalId)); r.set("login", .integer(Int64(truncatingIfNeeded: d.login)))
    r.set("order", .integer(Int64(truncatingIfNeeded: d.order)))
    r.set("position_id", .integer(Int64(truncatingIfNeeded: d.positionId)))
    r.set("action", .integer(Int64(d.action.rawValue))); r.set("entry", .integer(Int64(d.entry.rawValue)))
    r.set("reason", .integer(Int64(d.reason))); r.set("symbol", .text(d.symbol)); r.set("digits", .integer(Int64(d.digits)))
    r.set("currency_digits", .integer(Int64(d.currencyDigits))); r.set("time_msc", .integer(d.time.brokerMilliseconds))
    r.set("time_utc", .utc(d.time)); r.set("price", .money(d.price))
    r.set("volume_ext", .integer(Int64(truncatingIfNeeded: d.volumeExt))); r.set("contract_size", .money(d.contractSize))
    r.set("profit", .money(d.profit)); r.set("commission", .money(d.commission)); r.set("storage", .money(d.storage))
    r.set("fee", .money(d.fee)); r.set("comment", .text(d.comment)); r.set("deleted", .flag(deleted))
    r.set("updated_seq", .integer(seq))
    try await upsert(r, into: "deals", conflict: ["server_id", "deal"])
    if let type = d.balanceOperationType {
      try await upsertBalanceOperation(
        server: server, ticket: Int64(truncatingIfNeeded: d.deal), source: "mt5_deal",
        login: Int64(truncatingIfNeeded: d.login), type: type, code: Int64(d.action.rawValue), amount: d.profit,
        time: d.time, comment: d.comment, deleted: deleted, seq: seq)
    }
  }

  private mutating func upsertBalanceOperation(
    server: Int64, ticket: Int64, source: String, login: Int64, type: BalanceOperationType, code: Int64,
    amount: ExactDecimal, time: BrokerTime, comment: String, deleted: Bool, seq: Int64
  ) async throws {
    var r = PostgresRowImage()
    r.set("server_id", .integer(server)); r.set("ticket", .integer(ticket)); r.set("source", .text(source))
    r.set("login", .integer(login)); r.set("type", .text(type.rawValue)); r.set("platform_code", .integer(code))
    r.set("amount", .money(amount)); r.set("time_msc", .integer(time.brokerMilliseconds)); r.set("time_utc", .utc(time))
    r.set("comment", .text(comment)); r.set("deleted", .flag(deleted)); r.set("updated_seq", .integer(seq))
    try await upsert(r, into: "balance_operations", conflict: ["server_id", "ticket"])
  }

  private mutating func upsertOrder(_ o: Order, server: Int64, seq: Int64, inHistory: Bool) async throws {
    var r = PostgresRowImage()
    r.set("server_id", .integer(server)); r.set("order", .integer(Int64(truncatingIfNeeded: o.order)))
    r.set("external_id", .text(o.externalId)); r.set("login", .integer(Int64(truncatingIfNeeded: o.login)))
    r.set("symbol", .text(o.symbol)); r.set("type", .integer(Int64(o.type.rawValue)))
    r.set("state", .integer(Int64(o.state.rawValue))); r.set("reason", .integer(Int64(o.reason)))
    r.set("digits", .integer(Int64(o.digits))); r.set("price_order", .money(o.priceOrder))
    r.set("price_sl", .money(o.priceSL)); r.set("price_tp", .money(o.priceTP))
    r.set("volume_initial_ext", .integer(Int64(truncatingIfNeeded: o.volumeInitialExt)))
    r.set("volume_current_ext", .integer(Int64(truncatingIfNeeded: o.volumeCurrentExt)))
    r.set("position_id", .integer(Int64(truncatingIfNeeded: o.positionId)))
    r.set("time_setup_msc", .integer(o.timeSetup.brokerMilliseconds)); r.set("time_setup_utc", .utc(o.timeSetup))
    r.set("time_done_msc", .integer(o.timeDone?.brokerMilliseconds ?? 0)); r.set("time_done_utc", .utc(o.timeDone))
    r.set("comment", .text(o.comment)); r.set("in_history", .flag(inHistory)); r.set("updated_seq", .integer(seq))
    try await upsert(r, into: "orders", conflict: ["server_id", "order"])
  }

  private mutating func upsertPosition(_ p: Position, server: Int64, seq: Int64) async throws {
    let position = Int64(truncatingIfNeeded: p.position)
    // A position closed by a newer event stays closed (deferred: the batched upsert's filter checks).
    if deferred == nil, let closedSeq = try await int(
      "SELECT closed_seq FROM position_closures WHERE server_id = \(server) AND position = \(position)"),
      closedSeq > seq
    {
      return
    }
    var r = PostgresRowImage()
    r.set("server_id", .integer(server)); r.set("position", .integer(position))
    r.set("login", .integer(Int64(truncatingIfNeeded: p.login))); r.set("symbol", .text(p.symbol))
    r.set("action", .integer(Int64(p.action.rawValue))); r.set("digits", .integer(Int64(p.digits)))
    r.set("volume_ext", .integer(Int64(truncatingIfNeeded: p.volumeExt))); r.set("price_open", .money(p.priceOpen))
    r.set("price_current", .money(p.priceCurrent)); r.set("profit", .money(p.profit)); r.set("storage", .money(p.storage))
    r.set("time_create_msc", .integer(p.timeCreate.brokerMilliseconds)); r.set("time_create_utc", .utc(p.timeCreate))
    r.set("time_update_msc", .integer(p.timeUpdate.brokerMilliseconds)); r.set("time_update_utc", .utc(p.timeUpdate))
    r.set("comment", .text(p.comment)); r.set("updated_seq", .integer(seq))
    try await upsert(r, into: "positions", conflict: ["server_id", "position"])
  }

  private func closePosition(_ p: Position, server: Int64, seq: Int64) async throws {
    let position = Int64(truncatingIfNeeded: p.position)
    try await run("DELETE FROM positions WHERE server_id = \(server) AND position = \(position) AND updated_seq < \(seq)")
    try await run("""
      INSERT INTO position_closures (server_id, position, closed_seq) VALUES (\(server), \(position), \(seq))
      ON CONFLICT (server_id, position) DO UPDATE SET
        closed_seq = greatest(position_closures.closed_seq, excluded.closed_seq)
      """)
  }

  private mutating func upsertTrade(_ t: Trade, server: Int64, seq: Int64) async throws {
    let deleted = t.mode == .update(.delete)
    let isMoney = t.command == .balance || t.command == .credit
    let isOpen = !deleted && !isMoney && t.closeTime == nil
    var r = PostgresRowImage()
    r.set("server_id", .integer(server)); r.set("ticket", .integer(Int64(t.ticket))); r.set("login", .integer(Int64(t.login)))
    r.set("symbol", .text(t.symbol)); r.set("digits", .integer(Int64(t.digits))); r.set("cmd", .integer(Int64(t.command.rawValue)))
    r.set("volume", .integer(Int64(t.volume))); r.set("open_time", .integer(t.openTime.brokerMilliseconds / 1000))
    r.set("open_time_utc", .utc(t.openTime)); r.set("state", .integer(Int64(t.state))); r.set("open_price", .money(t.openPrice))
    r.set("sl", .money(t.sl)); r.set("tp", .money(t.tp))
    r.set("close_time", .integer((t.closeTime?.brokerMilliseconds ?? 0) / 1000)); r.set("close_time_utc", .utc(t.closeTime))
    r.set("close_price", .money(t.closePrice)); r.set("commission", .money(t.commission)); r.set("storage", .money(t.storage))
    r.set("profit", .money(t.profit)); r.set("taxes", .money(t.taxes)); r.set("magic", .integer(Int64(t.magic)))
    r.set("comment", .text(t.comment)); r.set("timestamp", .integer(t.timestamp.brokerMilliseconds / 1000))
    r.set("is_open", .flag(isOpen)); r.set("deleted", .flag(deleted)); r.set("last_mode", .integer(Int64(t.mode?.rawValue ?? 0)))
    r.set("updated_seq", .integer(seq))
    try await upsert(r, into: "trades", conflict: ["server_id", "ticket"])
    if let type = t.balanceOperationType {
      try await upsertBalanceOperation(
        server: server, ticket: Int64(t.ticket), source: "mt4_trade", login: Int64(t.login), type: type,
        code: Int64(t.command.rawValue), amount: t.profit, time: t.closeTime ?? t.openTime, comment: t.comment,
        deleted: deleted, seq: seq)
    }
    if let user = t.user {
      var a = PostgresRowImage()
      a.set("server_id", .integer(server)); a.set("login", .integer(Int64(user.login))); a.set("group", .text(user.group))
      a.set("name", .text(user.name)); a.set("leverage", .integer(Int64(user.leverage)))
      a.set("balance", .money(user.balance)); a.set("credit", .money(user.credit)); a.set("updated_seq", .integer(seq))
      try await upsert(a, into: "accounts", conflict: ["server_id", "login"])
    }
  }
}
