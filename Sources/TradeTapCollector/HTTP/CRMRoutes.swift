import Hummingbird
import NIOCore
import TradeTapLedger

/// The CRM API's routes (`docs/api.md`, `docs/openapi.json`): read-only views of the
/// ledger, the change feed, `/healthz` and `/metrics`.
struct CRMRoutes: Sendable {
  let queries: LedgerQueries
  let metricsText: @Sendable () -> String
  /// Each server's lag in seconds, nil when not connected (``CollectorMetrics/lagSeconds()``).
  var lagSeconds: @Sendable () -> [UInt32: Double?] = { [:] }
  /// Applies a held reconciliation sweep (``Reconciler/apply(sweepId:)``).
  var applyHeldSweep: @Sendable (Int64) async throws -> ReconciliationOutcome = { throw HeldSweepError.unknownSweep($0) }
  /// The write API and command reads (``CommandRoutes``); nil: not served.
  var commands: CommandRoutes? = nil
  /// Outputs (docs/outputs.md); nil: none configured, the routes answer with an empty list.
  var outputs: OutputRoutes? = nil
  /// The operator's console: `GET /`, its files and `GET /v1/status` (docs/console.md); nil: not served.
  var console: (page: ConsoleRoutes, status: ConsoleStatus)? = nil
  /// Runs before each `/metrics` answer: the gauges read from the ledger (``LedgerStateGauges``).
  var beforeMetrics: @Sendable () async -> Void = {}

  func register(on router: Router<BasicRequestContext>) {
    router.get("/healthz") { _, _ in Self.plain("ok\n") }
    router.get("/metrics") { request, _ in
      _ = try QueryParameters(request, allowed: [])
      await beforeMetrics()
      return Self.plain(metricsText(), contentType: "text/plain; version=0.0.4")
    }
    router.get("/v1/servers") { request, _ in try await servers(request) }
    router.get("/v1/accounts/:server_id/:login") { request, context in try await account(request, context) }
    for listing in AccountListing.allCases {
      router.get("/v1/accounts/:server_id/:login/\(listing.rawValue)") { request, context in
        try await page(listing, request, context)
      }
    }
    let feed = ChangeFeed(queries: queries)
    router.get("/v1/changes") { request, _ in try await feed.page(request) }
    router.get("/v1/changes/stream") { request, _ in try feed.stream(request) }
    GatewayRoutes(queries: queries).register(on: router)
    router.post("/v1/reconciliation/sweeps/:sweep_id/apply") { request, context in
      try await applySweep(request, context)
    }
    commands?.register(on: router)
    outputs?.register(on: router)
    console?.page.register(on: router)
    console?.status.register(on: router)
    // Every path above with the methods it serves: any other method is a 405.
    let gets = ["/healthz", "/metrics", "/v1/servers", "/v1/accounts/:server_id/:login", "/v1/changes", "/v1/changes/stream"]
      + AccountListing.allCases.map { "/v1/accounts/:server_id/:login/\($0.rawValue)" }
    router.answerMethodNotAllowed(
      served: gets.map { ($0, [HTTPRequest.Method.get]) } + [("/v1/reconciliation/sweeps/:sweep_id/apply", [.post])]
        + GatewayRoutes.served + (commands == nil ? [] : CommandRoutes.served) + (outputs == nil ? [] : OutputRoutes.served)
        + (console == nil ? [] : ConsoleRoutes.served + [("/v1/status", [.get])]))
  }

  /// `POST /v1/reconciliation/sweeps/{id}/apply`: an operator confirms a held sweep
  /// (docs/reconciliation.md, "Held sweeps"). 404 unknown, 409 applied or superseded.
  private func applySweep(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    guard let id = context.parameters.get("sweep_id").flatMap(Int64.init), id > 0 else {
      throw APIError.badParameter("sweep_id", "expected a positive integer")
    }
    let outcome: ReconciliationOutcome
    do {
      outcome = try await applyHeldSweep(id)
    } catch let error as HeldSweepError {
      switch error {
      case .unknownSweep: throw APIError(status: .notFound, code: "sweep_not_found", message: "\(error)")
      case .notHeld: throw APIError(status: .conflict, code: "sweep_not_held", message: "\(error)")
      }
    } catch let error as Reconciler.ApplyFailure {
      throw APIError(status: .conflict, code: "sweep_not_held", message: "\(error)")
    }
    var json = JSONWriter()
    json.object { o in
      o.field("sweep_id", outcome.sweepId)
      o.field("status", ReconciliationStatus.applied)
      o.field("divergences", Int64(outcome.divergences.count))
      o.field("deletions", Int64(outcome.deletions))
      o.field("gaps_healed", Int64(outcome.gapsHealed))
    }
    return Self.json(json)
  }

  private func servers(_ request: Request) async throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    let rows = try await queries.servers()
    let lags = lagSeconds()
    var json = JSONWriter()
    json.object { o in
      o.field("servers") {
        $0.array(rows) { w, row in
          w.object { s in
            s.fields(row)
            s.field("connection", Self.connection(row))
            s.field("lag_seconds", Self.lag(row, lags))
          }
        }
      }
    }
    return Self.json(json)
  }

  /// The server's lag (docs/collector.md, "Metrics"); nil when it is not connected to this collector.
  static func lag(_ row: LedgerRecord, _ lags: [UInt32: Double?]) -> Double? {
    guard case .integer(let id)? = row["server_id"], let server = UInt32(exactly: id) else { return nil }
    return lags[server] ?? nil
  }

  /// `connected` when the last connection is newer than the last disconnection.
  static func connection(_ row: LedgerRecord) -> String {
    guard case .text(let connected)? = row["last_connected_utc"] else { return "never" }
    if case .text(let disconnected)? = row["last_disconnected_utc"], disconnected > connected { return "disconnected" }
    return "connected"
  }

  private func account(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    let (serverId, login) = try Self.accountPath(context)
    guard let row = try await queries.account(serverId: serverId, login: login) else {
      throw APIError(
        status: .notFound, code: "account_not_found", message: "no account \(login) on server \(serverId)")
    }
    var json = JSONWriter()
    json.object { o in
      o.fields(row)
      if case .integer(let mode)? = row["margin_mode"] {
        o.field("margin_mode_name", [0: "netting", 1: "exchange", 2: "hedging"][mode] ?? "unknown")
      } else {
        o.field("margin_mode_name", nil as String?)
      }
    }
    return Self.json(json)
  }

  private func page(_ listing: AccountListing, _ request: Request, _ context: BasicRequestContext) async throws
    -> Response
  {
    let parameters = try QueryParameters(request, allowed: ["from", "to", "cursor", "limit"])
    let (serverId, login) = try Self.accountPath(context)
    let from = try parameters.utc("from"), to = try parameters.utc("to")
    if let from, let to, from >= to { throw APIError.badParameter("from", "must be before to") }
    let page = try await queries.page(
      listing, serverId: serverId, login: login, fromUTC: from, toUTC: to, after: try parameters.listingCursor(),
      limit: try parameters.limit())
    var json = JSONWriter()
    json.object { o in
      o.field("items") { $0.array(page.records) { w, row in w.record(row) } }
      o.field("next_cursor", page.nextCursor?.text)
    }
    return Self.json(json)
  }

  static func accountPath(_ context: BasicRequestContext) throws -> (Int64, Int64) {
    guard let server = context.parameters.get("server_id").flatMap(UInt32.init) else {
      throw APIError.badParameter("server_id", "expected an integer from 0 to 4294967295")
    }
    guard let login = context.parameters.get("login").flatMap(Int64.init), login >= 0 else {
      throw APIError.badParameter("login", "expected a non-negative integer")
    }
    return (Int64(server), login)
  }

  static func json(_ json: JSONWriter) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    headers[.cacheControl] = "no-store"
    headers[.init("X-Content-Type-Options")!] = "nosniff"
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json.text)))
  }

  static func plain(_ text: String, contentType: String = "text/plain") -> Response {
    var headers = HTTPFields()
    headers[.contentType] = contentType
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
  }
}
