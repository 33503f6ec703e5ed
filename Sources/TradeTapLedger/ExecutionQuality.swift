import GRDB

/// Execution quality of one gateway (issue 11, item 6; docs/gateway.md): for each
/// request the gateway locked, request → first answer, answer → first fill and
/// request → final fill in milliseconds (the gateway's own broker times, so 1 ms
/// resolution), whether it was rejected (a reject answer or a reject execution), and
/// each fill's slippage in points against the server's quote when it routed the
/// request (adverse positive: a buy filled above the ask, a sell below the bid).
/// Computed from `gateway_requests`, `gateway_answers` and `executions`; prices are
/// exact decimal text, compared as integer points at the request's digits.
public struct ExecutionQuality: Sendable, Equatable {
  /// Nearest-rank percentiles of integer samples.
  public struct Distribution: Sendable, Equatable {
    public var count: Int
    public var p50: Int64?
    public var p90: Int64?
    public var p99: Int64?
    public var min: Int64?
    public var max: Int64?
    /// The arithmetic mean, nil without samples.
    public var mean: Double?

    public init(_ samples: [Int64]) {
      let sorted = samples.sorted()
      count = sorted.count
      func rank(_ p: Int) -> Int64? {
        guard !sorted.isEmpty else { return nil }
        // Nearest rank: the smallest value with at least p % of the samples at or below it.
        let index = (p * sorted.count + 99) / 100 - 1
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
      }
      p50 = rank(50)
      p90 = rank(90)
      p99 = rank(99)
      min = sorted.first
      max = sorted.last
      mean = sorted.isEmpty ? nil : Double(sorted.reduce(0, +)) / Double(sorted.count)
    }
  }

  /// Requests locked in the window.
  public var requests: Int
  /// Requests answered with a reject, or rejected by an execution.
  public var rejected: Int
  /// `rejected / requests` (0 without requests).
  public var rejectRate: Double { requests == 0 ? 0 : Double(rejected) / Double(requests) }
  public var requestToAnswerMs: Distribution
  public var answerToFirstFillMs: Distribution
  public var requestToFinalFillMs: Distribution
  /// One sample per fill.
  public var slippagePoints: Distribution

  /// - Parameters: rows of ``LedgerGatewaySQL`` quality reads: `requests` (server_id,
  ///   request_id, digits, type, price_bid, price_ask, time_msc), `answers` (server_id,
  ///   request_id, retcode, time_msc), `executions` (server_id, request_id, execution_id,
  ///   action, deal_price, deal_volume_remaining_ext, time_msc), each only of those requests.
  public init(requests: [LedgerRecord], answers: [LedgerRecord], executions: [LedgerRecord]) {
    struct Key: Hashable { let server: Int64, request: Int64 }
    func key(_ r: LedgerRecord) -> Key { Key(server: r.integer("server_id") ?? 0, request: r.integer("request_id") ?? 0) }
    var firstAnswer: [Key: Int64] = [:]
    var rejectedKeys = Set<Key>()
    for a in answers {
      let k = key(a), time = a.integer("time_msc") ?? 0
      firstAnswer[k] = Swift.min(firstAnswer[k] ?? time, time)
      let retcode = a.integer("retcode") ?? 0
      if ![10008, 10009, 10010].contains(retcode) { rejectedKeys.insert(k) }
    }
    var fills: [Key: [LedgerRecord]] = [:]
    for x in executions {
      switch x.integer("action") {
      case 2: fills[key(x), default: []].append(x)
      case 3: rejectedKeys.insert(key(x))
      default: break
      }
    }
    var toAnswer: [Int64] = [], toFirstFill: [Int64] = [], toFinalFill: [Int64] = [], slippage: [Int64] = []
    var rejected = 0
    for r in requests {
      let k = key(r), requested = r.integer("time_msc") ?? 0
      if rejectedKeys.contains(k) { rejected += 1 }
      let answered = firstAnswer[k]
      if let answered { toAnswer.append(answered - requested) }
      let ordered = (fills[k] ?? []).sorted { ($0.integer("execution_id") ?? 0) < ($1.integer("execution_id") ?? 0) }
      if let first = ordered.first, let answered { toFirstFill.append((first.integer("time_msc") ?? 0) - answered) }
      if let final = ordered.first(where: { $0.integer("deal_volume_remaining_ext") == 0 }) {
        toFinalFill.append((final.integer("time_msc") ?? 0) - requested)
      }
      let digits = Int(r.integer("digits") ?? 0)
      let buy = r.integer("type") == 0
      guard let quote = Self.points(r.text("price_ask"), digits: digits).flatMap({ ask in
        buy ? ask : Self.points(r.text("price_bid"), digits: digits)
      }) else { continue }
      for fill in ordered {
        guard let price = Self.points(fill.text("deal_price"), digits: digits) else { continue }
        slippage.append(buy ? price - quote : quote - price)
      }
    }
    self.requests = requests.count
    self.rejected = rejected
    requestToAnswerMs = Distribution(toAnswer)
    answerToFirstFillMs = Distribution(toFirstFill)
    requestToFinalFillMs = Distribution(toFinalFill)
    slippagePoints = Distribution(slippage)
  }

  /// Exact decimal text as integer points at `digits` (`1.08423` at 5 → 108423); nil
  /// when it is not a decimal or has more decimals than `digits` (a price off its tick).
  public static func points(_ text: String?, digits: Int) -> Int64? {
    guard let text, digits >= 0, digits <= 12 else { return nil }
    var rest = Substring(text)
    let negative = rest.first == "-"
    if negative { rest = rest.dropFirst() }
    let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isWholeNumber) else { return nil }
    var fraction = parts.count > 1 ? String(parts[1]) : ""
    guard fraction.allSatisfy(\.isWholeNumber) else { return nil }
    while fraction.count > digits, fraction.last == "0" { fraction.removeLast() }
    guard fraction.count <= digits else { return nil }
    fraction += String(repeating: "0", count: digits - fraction.count)
    guard let value = Int64(String(whole) + fraction) else { return nil }
    return negative ? -value : value
  }
}

extension LedgerGatewaySQL {
  /// The requests of a quality window: followed by the bound `gateway_id` and the filters on `r`.
  public static let qualityRequests = """
    SELECT r.server_id, r.request_id, r.digits, r.type, r.price_bid, r.price_ask, r.time_msc
    FROM gateway_requests r WHERE r.gateway_id = 
    """
  /// Their answers (`r` as in ``qualityRequests``).
  public static let qualityAnswers = """
    SELECT a.server_id, a.request_id, a.retcode, a.time_msc FROM gateway_answers a
    JOIN gateway_requests r ON r.gateway_id = a.gateway_id AND r.server_id = a.server_id AND r.request_id = a.request_id
    WHERE r.gateway_id = 
    """
  /// Their executions (`r` as in ``qualityRequests``).
  public static let qualityExecutions = """
    SELECT x.server_id, x.request_id, x.execution_id, x.action, x.deal_price, x.deal_volume_remaining_ext, x.time_msc
    FROM executions x
    JOIN gateway_requests r ON r.gateway_id = x.gateway_id AND r.server_id = x.server_id AND r.request_id = x.request_id
    WHERE r.gateway_id = 
    """
}

/// What the quality reads return: a window's requests and their answers and executions.
public struct GatewayQualityRows: Sendable {
  public var requests: [LedgerRecord]
  public var answers: [LedgerRecord]
  public var executions: [LedgerRecord]
  public init(requests: [LedgerRecord], answers: [LedgerRecord], executions: [LedgerRecord]) {
    self.requests = requests
    self.answers = answers
    self.executions = executions
  }
}

extension LedgerQueries {
  /// `GET /v1/gateways/{id}/execution-quality`: requests locked in [`fromUTC`, `toUTC`) of `symbol` (nil: all).
  public func executionQuality(gatewayId: Int64, fromUTC: String?, toUTC: String?, symbol: String?) async throws
    -> ExecutionQuality
  {
    let rows = try await store.gatewayQualityRows(gatewayId: gatewayId, fromUTC: fromUTC, toUTC: toUTC, symbol: symbol)
    return ExecutionQuality(requests: rows.requests, answers: rows.answers, executions: rows.executions)
  }
}

extension Ledger {
  public func gatewayQualityRows(gatewayId: Int64, fromUTC: String?, toUTC: String?, symbol: String?) async throws
    -> GatewayQualityRows
  {
    try await pool.read { db in
      var filter = "? "
      var arguments: StatementArguments = [gatewayId]
      if let fromUTC { filter += " AND r.time_utc >= ?"; arguments += [fromUTC] }
      if let toUTC { filter += " AND r.time_utc < ?"; arguments += [toUTC] }
      if let symbol { filter += " AND r.symbol = ?"; arguments += [symbol] }
      func rows(_ sql: String) throws -> [LedgerRecord] {
        try Row.fetchAll(db, sql: sql + filter, arguments: arguments).map(LedgerRecord.init(row:))
      }
      return GatewayQualityRows(
        requests: try rows(LedgerGatewaySQL.qualityRequests), answers: try rows(LedgerGatewaySQL.qualityAnswers),
        executions: try rows(LedgerGatewaySQL.qualityExecutions))
    }
  }
}
