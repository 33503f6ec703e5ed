import Foundation
import Testing
import TradeTapEvents
import TradeTapLedger
import TradeTapLedgerPostgres

/// `docs/openapi.json` checked against a running collector: every documented route
/// answers with its documented status, content type and required JSON fields; a
/// route the document does not list answers 404.
@Suite("CRM API matches docs/openapi.json", .serialized)
struct OpenAPIConformanceTests {
  static func document() throws -> [String: Any] {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    let data = try Data(contentsOf: url.appendingPathComponent("docs/openapi.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// Follows a local `$ref` (`#/components/...`).
  static func resolve(_ node: Any?, in document: [String: Any]) -> [String: Any] {
    guard var object = node as? [String: Any] else { return [:] }
    while let ref = object["$ref"] as? String {
      var current: Any? = document
      for part in ref.dropFirst(2).split(separator: "/") { current = (current as? [String: Any])?[String(part)] }
      object = current as? [String: Any] ?? [:]
    }
    return object
  }

  /// The required fields of `schema` are in `value`, recursively through objects and array items.
  static func check(_ value: Any, against schema: [String: Any], in document: [String: Any], at path: String) {
    let schema = resolve(schema, in: document)
    if let object = value as? [String: Any] {
      let properties = schema["properties"] as? [String: Any] ?? [:]
      for name in schema["required"] as? [String] ?? [] {
        #expect(object[name] != nil, "\(path): missing \(name)")
      }
      for (name, sub) in properties {
        if let child = object[name], !(child is NSNull) {
          check(child, against: resolve(sub, in: document), in: document, at: path + "." + name)
        }
      }
    } else if let array = value as? [Any], let items = schema["items"] {
      for element in array { check(element, against: resolve(items, in: document), in: document, at: path + "[]") }
    }
  }

  /// A POST route with its parameters' examples: a documented status with a JSON
  /// error body, and 401 without a token.
  static func checkPost(
    _ template: String, _ operation: [String: Any], client: CRMClient, document: [String: Any]
  ) async throws {
    var path = template
    for raw in operation["parameters"] as? [Any] ?? [] {
      let parameter = Self.resolve(raw, in: document)
      guard let name = parameter["name"] as? String, let example = parameter["example"] else { continue }
      path = path.replacingOccurrences(of: "{\(name)}", with: "\(example)")
    }
    #expect(!path.contains("{"), "\(template): a path parameter has no example")
    let responses = try #require(operation["responses"] as? [String: Any])
    let reply = try await client.post(path)
    #expect(responses["\(reply.status)"] != nil, "\(path): undocumented \(reply.status) \(reply.body.prefix(200))")
    #expect(reply.errorCode != nil || reply.status == 200, "\(path): \(reply.body.prefix(200))")
    #expect(try await client.post(path, token: .some(nil)).status == 401, "\(path) without a token")
    #expect(try await client.get(path).status == 405, "\(path): GET is not the method")
  }

  @Test(arguments: LedgerBackendKind.allCases)
  func everyDocumentedRouteAnswersAsDocumentedAndOthers404(backend: LedgerBackendKind) async throws {
    let document = try Self.document()
    let paths = try #require(document["paths"] as? [String: Any])
    #expect(paths.count >= 10)
    // One webhook output (to a closed port: it only retries), so the /v1/outputs routes answer with a real output.
    let webhook = "http://127.0.0.1:9/conformance"
    try await CRMAPITests.withSeededCollector(backend: backend, webhooks: [webhook]) { harness, client, _ in
      let output = harness.collector.outputNames.first ?? "?"
      #expect(output.hasPrefix("webhook-"))
      // Command 1, so GET /v1/commands/{command_id}'s example answers 200 (the write routes answer 403 here: no write token).
      _ = try await harness.collector.ledger.submitCommand(CommandSubmission(
        serverId: Harness.serverId, request: .moveMoney(MoneyMovement(login: CRMAPITests.login, type: .deposit, amount: ExactDecimal("1.00")!)),
        idempotencyKey: "conformance", bodyHash: "h", tokenId: "t"))
      // Gateway 501's requests, answers and executions, so /v1/gateways and its executions page answer with rows.
      let gatewayBatch = LedgerBatch(serverId: GatewayLedgerTests.gateway, events: GatewayLedgerTests.first)
      if let postgres = harness.collector.ledger as? PostgresLedger {
        _ = try await postgres.commitAsync([gatewayBatch])
      } else {
        _ = try harness.collector.ledger.commit([gatewayBatch], reportedGaps: [])
      }
      for (documented, item) in paths.sorted(by: { $0.key < $1.key }) {
        // An output's name is a hash of its URL: the live one, not the document's example.
        let template = documented.replacingOccurrences(of: "{name}", with: output)
        // The one write: applying a held sweep. The seeded ledger holds none: its example is a documented 404.
        if let post = (item as? [String: Any])?["post"] as? [String: Any] {
          try await Self.checkPost(template, post, client: client, document: document)
          continue
        }
        let operation = try #require((item as? [String: Any])?["get"] as? [String: Any], "\(template): no GET")
        var path = template
        var query: [String] = []
        for raw in operation["parameters"] as? [Any] ?? [] {
          let parameter = Self.resolve(raw, in: document)
          guard let name = parameter["name"] as? String, let example = parameter["example"] else { continue }
          if parameter["in"] as? String == "path" { path = path.replacingOccurrences(of: "{\(name)}", with: "\(example)") }
          if parameter["in"] as? String == "query" { query.append("\(name)=\(example)") }
        }
        #expect(!path.contains("{"), "\(template): a path parameter has no example")
        if !query.isEmpty { path += "?" + query.joined(separator: "&") }
        let responses = try #require(operation["responses"] as? [String: Any])
        let ok = Self.resolve(responses["200"], in: document)
        let content = ok["content"] as? [String: Any] ?? [:]
        let mediaType = try #require(content.keys.first)

        let reply: CRMClient.Reply
        if mediaType == "text/event-stream" {
          let (status, body) = try await client.stream(path, opened: {}, until: { $0.contains("retry:") })
          reply = CRMClient.Reply(status: status, headers: ["content-type": "text/event-stream"], body: body)
        } else {
          reply = try await client.get(path)
        }
        #expect(reply.status == 200, "\(path): \(reply.body.prefix(200))")
        #expect(reply.headers["content-type"]?.hasPrefix(mediaType) == true, "\(path): \(reply.headers)")
        if mediaType == "application/json" {
          let schema = Self.resolve((content[mediaType] as? [String: Any])?["schema"], in: document)
          let body = try JSONSerialization.jsonObject(with: Data(reply.body.utf8))
          Self.check(body, against: schema, in: document, at: template)
        }
        // Documented 401s: the same request without a token.
        if responses["401"] != nil {
          #expect(try await client.get(path, token: .some(nil)).status == 401, "\(path) without a token")
        }
      }
      for undocumented in ["/v1", "/v1/accounts", "/v1/accounts/7/5001/orders", "/v1/changes/ws", "/admin", "/v1/servers/7"] {
        #expect(paths[undocumented] == nil)
        let reply = try await client.get(undocumented)
        #expect(reply.status == 404, "\(undocumented)")
        #expect(reply.errorCode == "not_found", "\(undocumented)")
      }
    }
  }
}
