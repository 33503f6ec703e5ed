import Foundation
import GRDB

/// What the gateway cross-check found wrong between a gateway's fills and the trade
/// server's deals (docs/reconciliation.md, "Gateway against server"): the
/// `reconciliation_divergences.field` of its rows.
public enum GatewayMismatchKind: String, Sendable, CaseIterable, Hashable {
  /// A fill (`executions.action` = 2) no live deal matches on (server, order, external id).
  case fillWithoutDeal = "fill without deal"
  /// A fill more than one live deal matches on (server, order, external id).
  case fillWithSeveralDeals = "fill with several deals"
  /// The fill's deal has another volume (`volume_ext`).
  case volumeMismatch = "volume mismatch"
  /// The fill's deal has another price.
  case priceMismatch = "price mismatch"
  /// A live deal on a gateway-routed order that no fill of that gateway matches.
  case dealWithoutFill = "deal without fill"
}

/// One mismatch found by the cross-check, as it stands now.
public struct GatewayMismatch: Sendable, Hashable {
  public var gatewayId: Int64
  /// The trade server the fill or deal belongs to.
  public var serverId: Int64
  /// `execution` (key: the execution id, per gateway) or `deal` (key: the server's deal).
  public var subject: String
  public var key: Int64
  public var kind: GatewayMismatchKind
  /// The server's side (the deal's external id, volume or price; nil: no deal).
  public var dealValue: String?
  /// The gateway's side (the fill's external id, volume or price; nil: no fill).
  public var fillValue: String?
  /// Already in `reconciliation_divergences` before this run.
  public var recordedBefore: Bool
}

/// The result of one cross-check of every gateway against the servers' deals.
public struct GatewayCrossCheck: Sendable {
  /// Every mismatch standing now (older than the grace period), recorded before or not.
  public var mismatches: [GatewayMismatch] = []
  /// Rows this run appended to `reconciliation_divergences` (mismatches found for the first time).
  public var recorded = 0
  /// Fills compared (older than the grace period).
  public var fillsCompared = 0
  /// Mismatches recorded earlier that no longer stand: each got a `resolved` row this run.
  public var resolved: [GatewayMismatch] = []

  public init() {}

  /// Standing mismatches of each kind (every kind present, 0 when none).
  public var counts: [GatewayMismatchKind: Int] {
    var counts = Dictionary(uniqueKeysWithValues: GatewayMismatchKind.allCases.map { ($0, 0) })
    for m in mismatches { counts[m.kind, default: 0] += 1 }
    return counts
  }
}

/// The cross-check's SQL, one text for both backends (docs/reconciliation.md,
/// "Gateway against server"). Each `{cutoff}` is bound to the same UTC text: a fill
/// or deal whose event the ledger received after it is younger than the grace
/// period and not compared yet.
public enum GatewayCrossCheckSQL {
  static let dealKey = """
    d.server_id = x.server_id AND d."order" = x."order" AND d.external_id = x.deal_external_id AND d.deleted = 0
    """
  static let fillIsOld = """
    NOT EXISTS (SELECT 1 FROM events e WHERE e.server_id = x.gateway_id AND e.seq = x.seq AND e.received_utc > {cutoff})
    """

  /// Every standing mismatch, with `recorded` = 1 when a cross-check row of the same
  /// gateway, server, subject, key and kind is already in `reconciliation_divergences`.
  public static let mismatches = """
    SELECT m.gateway_id, m.server_id, m.subject, m."key", m.kind, m.deal_value, m.fill_value,
           CASE WHEN (
             SELECT v.correction FROM reconciliation_divergences v JOIN reconciliation_sweeps s ON s.id = v.sweep_id
             WHERE s.server_id = m.gateway_id AND v.server_id = m.server_id AND v.subject = m.subject
               AND v."key" = m."key" AND v.field = m.kind ORDER BY v.id DESC LIMIT 1) = 'reported'
           THEN 1 ELSE 0 END AS recorded
    FROM (
      SELECT x.gateway_id, x.server_id, 'execution' AS subject, x.execution_id AS "key", 'fill without deal' AS kind,
             CAST(NULL AS TEXT) AS deal_value, x.deal_external_id AS fill_value
      FROM executions x
      WHERE x.action = 2 AND NOT EXISTS (SELECT 1 FROM deals d WHERE \(dealKey)) AND \(fillIsOld)
      UNION ALL
      SELECT x.gateway_id, x.server_id, 'execution', x.execution_id, 'fill with several deals',
             CAST(count(*) AS TEXT), x.deal_external_id
      FROM executions x JOIN deals d ON \(dealKey)
      WHERE x.action = 2 AND \(fillIsOld)
      GROUP BY x.gateway_id, x.server_id, x.execution_id, x.deal_external_id
      HAVING count(*) > 1
      UNION ALL
      SELECT x.gateway_id, x.server_id, 'execution', x.execution_id, 'volume mismatch',
             CAST(d.volume_ext AS TEXT), CAST(x.deal_volume_ext AS TEXT)
      FROM executions x JOIN deals d ON \(dealKey)
      WHERE x.action = 2 AND d.volume_ext <> x.deal_volume_ext AND \(fillIsOld)
      UNION ALL
      SELECT x.gateway_id, x.server_id, 'execution', x.execution_id, 'price mismatch',
             CAST(d.price AS TEXT), CAST(x.deal_price AS TEXT)
      FROM executions x JOIN deals d ON \(dealKey)
      WHERE x.action = 2 AND CAST(d.price AS DOUBLE PRECISION) <> CAST(x.deal_price AS DOUBLE PRECISION)
        AND \(fillIsOld)
      UNION ALL
      SELECT r.gateway_id, d.server_id, 'deal', d.deal, 'deal without fill', d.external_id, CAST(NULL AS TEXT)
      FROM (SELECT gateway_id, server_id, "order" FROM gateway_requests WHERE "order" <> 0
            UNION SELECT gateway_id, server_id, "order" FROM executions WHERE "order" <> 0) r
      JOIN deals d ON d.server_id = r.server_id AND d."order" = r."order"
      WHERE d.deleted = 0
        AND NOT EXISTS (SELECT 1 FROM executions x WHERE x.gateway_id = r.gateway_id AND x.action = 2 AND \(dealKey))
        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.server_id = d.server_id AND e.seq = d.updated_seq
                          AND e.received_utc > {cutoff})
    ) m
    ORDER BY m.gateway_id, m.server_id, m.subject, m."key", m.kind
    """

  /// Cross-check mismatches whose latest row is `reported` (open): those no longer
  /// standing get a `resolved` row.
  public static let open = """
    SELECT s.server_id AS gateway_id, v.server_id, v.subject, v."key", v.field AS kind, v.ledger_value AS deal_value,
           v.platform_value AS fill_value, 1 AS recorded
    FROM reconciliation_divergences v JOIN reconciliation_sweeps s ON s.id = v.sweep_id
    WHERE v.field IN (\(GatewayMismatchKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")))
      AND v.correction = 'reported'
      AND v.id = (SELECT max(w.id) FROM reconciliation_divergences w JOIN reconciliation_sweeps t ON t.id = w.sweep_id
                  WHERE t.server_id = s.server_id AND w.server_id = v.server_id AND w.subject = v.subject
                    AND w."key" = v."key" AND w.field = v.field)
    """

  /// Fills older than the grace period, per gateway.
  public static let fillsCompared = """
    SELECT x.gateway_id, count(*) AS fills FROM executions x WHERE x.action = 2 AND \(fillIsOld) GROUP BY x.gateway_id
    """

  /// `text` cut at each `{cutoff}`: bind the cutoff between the pieces.
  public static func pieces(_ text: String) -> [String] { text.components(separatedBy: "{cutoff}") }

  /// The UTC text `grace` before `nowMilliseconds`.
  public static func cutoff(grace: Duration, nowMilliseconds: Int64) -> String {
    let (seconds, attoseconds) = grace.components
    return UTCTime.text(millisecondsSinceEpoch: nowMilliseconds - seconds * 1000 - attoseconds / 1_000_000_000_000_000)
  }

  /// Milliseconds since the epoch now.
  public static func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

  /// What one run appends, per gateway: the mismatches found for the first time
  /// (correction `reported`) and the open ones no longer standing (`resolved`).
  /// Sets `check.resolved`.
  public static func writes(_ check: inout GatewayCrossCheck, open: [GatewayMismatch])
    -> [(gateway: Int64, rows: [(mismatch: GatewayMismatch, correction: String)])]
  {
    func identity(_ m: GatewayMismatch) -> String { "\(m.gatewayId) \(m.serverId) \(m.subject) \(m.key) \(m.kind.rawValue)" }
    let standing = Set(check.mismatches.map(identity))
    check.resolved = open.filter { !standing.contains(identity($0)) }
    let rows = check.mismatches.filter { !$0.recordedBefore }.map { ($0, "reported") } + check.resolved.map { ($0, "resolved") }
    return Dictionary(grouping: rows, by: \.0.gatewayId).sorted { $0.key < $1.key }.map { (gateway: $0.key, rows: $0.value.map { (mismatch: $0.0, correction: $0.1) }) }
  }

  /// Reads the mismatches query's rows.
  public static func mismatch(_ record: LedgerRecord) -> GatewayMismatch? {
    guard let gateway = record.integer("gateway_id"), let server = record.integer("server_id"),
      let subject = record.text("subject"), let key = record.integer("key"),
      let kind = record.text("kind").flatMap(GatewayMismatchKind.init(rawValue:))
    else { return nil }
    return GatewayMismatch(
      gatewayId: gateway, serverId: server, subject: subject, key: key, kind: kind,
      dealValue: record.text("deal_value"), fillValue: record.text("fill_value"),
      recordedBefore: record.integer("recorded") == 1)
  }
}

extension Ledger {
  /// Matches every gateway's fills with the trade servers' deals and every deal on a
  /// gateway-routed order with a fill, in SQL, and appends the mismatches not yet
  /// recorded to `reconciliation_divergences` (one `reconciliation_sweeps` row per
  /// gateway with new ones; correction `reported`: nothing is corrected). One transaction.
  /// - Parameter grace: fills and deals the ledger received less than this ago are not compared.
  public func crossCheckGateways(grace: Duration) async throws -> GatewayCrossCheck {
    let now = GatewayCrossCheckSQL.nowMilliseconds()
    let cutoff = GatewayCrossCheckSQL.cutoff(grace: grace, nowMilliseconds: now)
    let nowText = UTCTime.text(millisecondsSinceEpoch: now)
    return try await pool.write { db in
      func rows(_ text: String) throws -> [LedgerRecord] {
        let pieces = GatewayCrossCheckSQL.pieces(text)
        let arguments = StatementArguments(Array(repeating: cutoff, count: pieces.count - 1))
        return try Row.fetchAll(db, sql: pieces.joined(separator: "?"), arguments: arguments).map(LedgerRecord.init(row:))
      }
      var check = GatewayCrossCheck()
      var fills: [Int64: Int64] = [:]
      for row in try rows(GatewayCrossCheckSQL.fillsCompared) {
        fills[row.integer("gateway_id") ?? 0] = row.integer("fills") ?? 0
      }
      check.fillsCompared = Int(fills.values.reduce(0, +))
      check.mismatches = try rows(GatewayCrossCheckSQL.mismatches).compactMap(GatewayCrossCheckSQL.mismatch)
      let open = try rows(GatewayCrossCheckSQL.open).compactMap(GatewayCrossCheckSQL.mismatch)
      for (gateway, writes) in GatewayCrossCheckSQL.writes(&check, open: open) {
        let lastSeq = try Int64.fetchOne(db, sql: LedgerStatements.serverLastSeq, arguments: [gateway]) ?? 0
        try db.execute(
          sql: """
            INSERT INTO reconciliation_sweeps (server_id, started_utc, finished_utc, snapshot_seq, accounts_compared,
              positions_compared, deals_compared, trades_compared, divergences, status, applied_utc, deletions,
              ledger_rows_compared)
            VALUES (?, ?, ?, ?, 0, 0, ?, 0, ?, 'applied', ?, 0, ?)
            """,
          arguments: [gateway, nowText, nowText, lastSeq, fills[gateway] ?? 0, writes.count, nowText,
                      fills[gateway] ?? 0])
        let sweep = db.lastInsertedRowID
        for (m, correction) in writes {
          try db.execute(sql: LedgerStatements.ensureServer, arguments: [m.serverId, 0])
          try db.execute(
            sql: """
              INSERT INTO reconciliation_divergences (sweep_id, server_id, subject, "key", field, ledger_value,
                platform_value, correction, detected_utc, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'applied')
              """,
            arguments: [sweep, m.serverId, m.subject, m.key, m.kind.rawValue, m.dealValue, m.fillValue, correction,
                        nowText])
          if correction == "reported" { check.recorded += 1 }
        }
      }
      return check
    }
  }
}
