import Hummingbird
import TradeTapLedger

/// `GET /v1/outputs`, each output's dead letters, and their re-drive (docs/outputs.md).
struct OutputRoutes: Sendable {
  let outputs: Outputs
  let ledger: any LedgerStore

  static let served: [(String, [HTTPRequest.Method])] = [
    ("/v1/outputs", [.get]), ("/v1/outputs/:name/dead-letters", [.get]),
    ("/v1/outputs/:name/dead-letters/:letter_id/redrive", [.post]),
  ]

  func register(on router: Router<BasicRequestContext>) {
    router.get("/v1/outputs") { request, _ in try list(request) }
    router.get("/v1/outputs/:name/dead-letters") { request, context in try await deadLetters(request, context) }
    router.post("/v1/outputs/:name/dead-letters/:letter_id/redrive") { request, context in
      try await redrive(request, context)
    }
  }

  private func list(_ request: Request) throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    var json = JSONWriter()
    json.object { o in
      o.field("outputs") {
        $0.array(outputs.services) { w, service in
          let s = service.status
          w.object { o in
            o.field("name", s.name)
            o.field("kind", s.kind)
            o.field("target", s.target)
            o.field("cursor", String(s.cursor))
            o.field("last_change_id", String(s.lastChangeId))
            o.field("lag_changes", max(0, s.lastChangeId - s.cursor))
            o.field("lag_seconds", s.lagSeconds)
            o.field("delivered", s.delivered)
            o.field("retries", s.retries)
            o.field("dead_letters", s.deadLetters)
            o.field("last_error", s.lastError)
            o.field("last_delivered_utc", s.lastDeliveredUtc)
          }
        }
      }
    }
    return CRMRoutes.json(json)
  }

  private func output(_ context: BasicRequestContext) throws -> OutputService {
    guard let name = context.parameters.get("name"), let service = outputs.service(named: name) else {
      throw APIError(status: .notFound, code: "output_not_found", message: "no such output (GET /v1/outputs lists them)")
    }
    return service
  }

  private func deadLetters(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    let parameters = try QueryParameters(request, allowed: ["limit", "waiting"])
    let service = try output(context)
    let limit = try parameters.limit()
    let waiting = try parameters.flag("waiting") ?? false
    let letters = try await ledger.deadLetters(output: service.name, waitingOnly: waiting, limit: limit)
    var json = JSONWriter()
    json.object { o in
      o.field("dead_letters") { $0.array(letters) { w, letter in w.object { Self.letter(letter, into: &$0) } } }
    }
    return CRMRoutes.json(json)
  }

  /// Queues the letter's changes for delivery again; 202. The letter shows
  /// `redriven_utc` once the destination confirmed them.
  private func redrive(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
    _ = try QueryParameters(request, allowed: [])
    let service = try output(context)
    guard let id = context.parameters.get("letter_id").flatMap(Int64.init), id > 0 else {
      throw APIError.badParameter("letter_id", "expected a positive integer")
    }
    let letters = try await ledger.deadLetters(output: service.name, waitingOnly: false, limit: 1_000_000)
    guard let letter = letters.first(where: { $0.id == id }) else {
      throw APIError(status: .notFound, code: "dead_letter_not_found", message: "no dead letter \(id) of \(service.name)")
    }
    service.redrive(letter)
    var json = JSONWriter()
    json.object { Self.letter(letter, into: &$0); $0.field("redrive", "queued") }
    var response = CRMRoutes.json(json)
    response.status = .accepted
    return response
  }

  static func letter(_ letter: OutputDeadLetter, into o: inout JSONWriter) {
    o.field("id", letter.id)
    o.field("output", letter.output)
    o.field("first_change_id", String(letter.firstChangeId))
    o.field("last_change_id", String(letter.lastChangeId))
    o.field("status", Int64(letter.status))
    o.field("response", letter.response)
    o.field("failed_utc", letter.failedUtc)
    o.field("redriven_utc", letter.redrivenUtc)
  }
}
