import Hummingbird
import TradeTapLedger

/// The gateway model's reads (docs/gateway.md, docs/api.md): the gateway sources
/// the ledger holds and each one's executions, paged by execution id.
struct GatewayRoutes: Sendable {
  let queries: LedgerQueries

  static let served: [(String, [HTTPRequest.Method])] = [
    ("/v1/gateways", [.get]),
    ("/v1/gateways/:gateway_id/executions", [.get]),
    ("/v1/gateways/:gateway_id/execution-quality", [.get]),
  ]

  func register(on router: Router<BasicRequestContext>) {
    router.get("/v1/gateways") { request, _ in try await gateways(request) }
    router.get("/v1/gateways/:gateway_id/executions") { request, context in try await executions(request, context) }
    router.get("/v1/gateways/:gateway_id/execution-quality") { request, context in try await quality(request, context) }
  }

  /// `GET /v1/gateways`: each gateway source, its last event and its row counts.
  private func gateways(_ request: Request) async throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    let rows = try await queries.gateways()
    var json = JSONWriter()
    json.object { o in
      o.field("gateways") { $0.array(rows) { w, row in w.object { g in
        g.fields(row)
        g.field("connection", CRMRoutes.connection(row))
      } } }
    }
    return CRMRoutes.json(json)
  }

  /// `GET /v1/gateways/{id}/executions?from=&to=&cursor=&limit=`: oldest first by
  /// execution id; `next_cursor` is the last id of the page when more follow.
  private func executions(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let parameters = try QueryParameters(request, allowed: ["from", "to", "cursor", "limit"])
    let gateway = try Self.gatewayId(context)
    let from = try parameters.utc("from"), to = try parameters.utc("to")
    if let from, let to, from >= to { throw APIError.badParameter("from", "must be before to") }
    let after = try parameters.changeCursor("cursor") ?? 0
    guard try await queries.gateways().contains(where: { $0.integer("gateway_id") == gateway }) else {
      throw APIError(status: .notFound, code: "gateway_not_found", message: "no gateway \(gateway) in the ledger")
    }
    let page = try await queries.gatewayExecutions(
      gatewayId: gateway, after: after, fromUTC: from, toUTC: to, limit: try parameters.limit())
    var json = JSONWriter()
    json.object { o in
      o.field("items") { $0.array(page.records) { w, row in w.record(row) } }
      o.field("next_cursor", page.nextCursor.map { String($0) })
    }
    return CRMRoutes.json(json)
  }

  /// `GET /v1/gateways/{id}/execution-quality?from=&to=&symbol=`: the requests the
  /// gateway locked in the window (``ExecutionQuality``): count, reject rate, p50/p90/p99
  /// of request → answer, answer → first fill and request → final fill (ms), and the
  /// mean and p99 of each fill's slippage in points (adverse positive).
  private func quality(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let parameters = try QueryParameters(request, allowed: ["from", "to", "symbol"])
    let gateway = try Self.gatewayId(context)
    let from = try parameters.utc("from"), to = try parameters.utc("to")
    if let from, let to, from >= to { throw APIError.badParameter("from", "must be before to") }
    let symbol = request.uri.queryParameters["symbol"].map(String.init)
    if let symbol, symbol.isEmpty || symbol.utf8.count > 32 {
      throw APIError.badParameter("symbol", "expected a symbol name of 1 to 32 bytes")
    }
    guard try await queries.gateways().contains(where: { $0.integer("gateway_id") == gateway }) else {
      throw APIError(status: .notFound, code: "gateway_not_found", message: "no gateway \(gateway) in the ledger")
    }
    let q = try await queries.executionQuality(gatewayId: gateway, fromUTC: from, toUTC: to, symbol: symbol)
    func distribution(_ d: ExecutionQuality.Distribution, into o: inout JSONWriter) {
      o.field("count", Int64(d.count))
      o.field("p50", d.p50)
      o.field("p90", d.p90)
      o.field("p99", d.p99)
    }
    var json = JSONWriter()
    json.object { o in
      o.field("gateway_id", gateway)
      o.field("from", from)
      o.field("to", to)
      o.field("symbol", symbol)
      o.field("requests", Int64(q.requests))
      o.field("rejected", Int64(q.rejected))
      o.field("reject_rate", q.rejectRate)
      o.field("request_to_answer_ms") { w in w.object { distribution(q.requestToAnswerMs, into: &$0) } }
      o.field("answer_to_first_fill_ms") { w in w.object { distribution(q.answerToFirstFillMs, into: &$0) } }
      o.field("request_to_final_fill_ms") { w in w.object { distribution(q.requestToFinalFillMs, into: &$0) } }
      o.field("slippage_points") { w in
        w.object { s in
          s.field("count", Int64(q.slippagePoints.count))
          s.field("mean", q.slippagePoints.mean)
          s.field("p99", q.slippagePoints.p99)
          s.field("min", q.slippagePoints.min)
          s.field("max", q.slippagePoints.max)
        }
      }
    }
    return CRMRoutes.json(json)
  }

  static func gatewayId(_ context: BasicRequestContext) throws -> Int64 {
    guard let id = context.parameters.get("gateway_id").flatMap(UInt32.init) else {
      throw APIError.badParameter("gateway_id", "expected an integer from 0 to 4294967295")
    }
    return Int64(id)
  }
}
