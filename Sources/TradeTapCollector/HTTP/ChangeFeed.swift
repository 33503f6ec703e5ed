import Hummingbird
import NIOCore
import ServiceLifecycle
import TradeTapLedger

/// The ordered change feed a CRM syncs from: one change per event the ledger
/// applied (`changes` table, migration `v3 changes feed`), ids strictly increasing
/// and stable, resumable from any id. Delivery is at-least-once: a client that
/// resumes from the last id it *processed* sees no loss, possibly repeats.
struct ChangeFeed: Sendable {
  let queries: LedgerQueries
  /// How often an open stream looks for new changes (the writer commits in groups).
  static let pollInterval: Duration = .milliseconds(200)
  /// A comment line this often keeps proxies from closing an idle stream.
  static let keepAliveInterval: Duration = .seconds(15)
  static let streamBatch = 500

  /// `GET /v1/changes?after=ID&limit=N`
  func page(_ request: Request) async throws -> Response {
    let parameters = try QueryParameters(request, allowed: ["after", "limit"])
    let after = try parameters.changeCursor("after") ?? 0
    let limit = try parameters.limit()
    let rows = try await queries.changes(afterId: after, limit: limit + 1)
    let shown = rows.prefix(limit)
    var json = JSONWriter()
    json.object { o in
      o.field("changes") { $0.array(shown) { w, row in w.object { Self.change(row, into: &$0) } } }
      o.field("next_cursor", String(shown.last.map(Self.id) ?? after))
      o.field("has_more", rows.count > limit)
    }
    return CRMRoutes.json(json)
  }

  /// `GET /v1/changes/stream?after=ID` (or `Last-Event-ID`): Server-Sent Events,
  /// one `change` event per change, `id:` the change id; runs until the client goes.
  func stream(_ request: Request) throws -> Response {
    let parameters = try QueryParameters(request, allowed: ["after"])
    var start = try parameters.changeCursor("after") ?? 0
    if let last = request.headers[.init("Last-Event-ID")!] {
      guard let id = Int64(last), id >= 0 else { throw APIError.badParameter("Last-Event-ID", "expected a change id") }
      start = id
    }
    let first = start
    var headers = HTTPFields()
    headers[.contentType] = "text/event-stream"
    headers[.cacheControl] = "no-store"
    let queries = self.queries
    let body = ResponseBody { writer in
      var after = first
      var quiet: Duration = .zero
      try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
      while !Task.isCancelled && !Task.isShuttingDownGracefully {
        let rows = try await queries.changes(afterId: after, limit: Self.streamBatch)
        if rows.isEmpty {
          if quiet >= Self.keepAliveInterval {
            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
            quiet = .zero
          }
          try await Task.sleep(for: Self.pollInterval)
          quiet += Self.pollInterval
          continue
        }
        var text = ""
        for row in rows {
          var json = JSONWriter()
          json.object { Self.change(row, into: &$0) }
          text += "id: \(Self.id(row))\nevent: change\ndata: \(json.text)\n\n"
          after = Self.id(row)
        }
        try await writer.write(ByteBuffer(string: text))
        quiet = .zero
      }
      try await writer.finish(nil)
    }
    return Response(status: .ok, headers: headers, body: body)
  }

  static func id(_ row: LedgerRecord) -> Int64 {
    if case .integer(let id)? = row["id"] { id } else { 0 }
  }

  /// One change: the ledger columns, plus what it is about, read from the event's
  /// summary (`deal 10001 login 1001 ...`): `entity`, `entity_id`, `login`.
  static func change(_ row: LedgerRecord, into o: inout JSONWriter) {
    o.fields(row)
    var entity: String? = nil, entityId: Int64? = nil, login: Int64? = nil
    if case .text(let summary)? = row["summary"] {
      let words = summary.split(separator: " ", maxSplits: 4)
      if words.count >= 2, ["deal", "order", "position", "trade", "user", "command", "execution"].contains(words[0]),
        let id = Int64(words[1])
      {
        entity = words[0] == "user" ? "account" : String(words[0])
        entityId = id
        login = words[0] == "user" ? id : (words.count >= 4 && words[2] == "login" ? Int64(words[3]) : nil)
      }
    }
    o.field("entity", entity)
    o.field("entity_id", entityId)
    o.field("login", login)
  }
}
