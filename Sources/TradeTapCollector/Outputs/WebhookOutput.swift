import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TradeTapWire

/// A signed webhook (docs/outputs.md): `POST` of `{"changes":[…]}` with
/// `TradeTap-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
/// (Stripe's scheme) and `TradeTap-Delivery: <first change id>-<last change id>`.
/// The receiver dedupes by change id. 2xx moves the cursor; 5xx, 408, 429, a timeout
/// or a transport error is retried; any other status is a refusal (a dead letter).
struct WebhookOutput: OutputDestination {
  let url: String
  let secret: [UInt8]
  let timeout: TimeAmount
  let client: HTTPClient

  var kind: String { "webhook" }
  /// The URL without user information or query (which may carry credentials).
  var target: String { Self.redacted(url) }

  /// The output's name: stable per URL across restarts and flag orders, so its cursor is found again.
  static func name(url: String) -> String {
    "webhook-" + SHA256.hash(Array(url.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
  }

  static func redacted(_ url: String) -> String {
    guard var parts = URLComponents(string: url) else { return "?" }
    parts.user = nil
    parts.password = nil
    parts.query = nil
    return parts.string ?? "?"
  }

  /// The signature header's value for `body` at `time` (unix seconds).
  static func signature(body: [UInt8], secret: [UInt8], time: Int64) -> String {
    let mac = HMACSHA256.authenticationCode(for: Array("\(time).".utf8) + body, key: secret)
    return "t=\(time),v1=" + mac.map { String(format: "%02x", $0) }.joined()
  }

  func deliver(_ batch: OutputBatch) async throws {
    let body = Array(("{\"changes\":[" + batch.changes.joined(separator: ",") + "]}").utf8)
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.headers.add(name: "User-Agent", value: "TradeTap")
    request.headers.add(name: "TradeTap-Delivery", value: "\(batch.firstChangeId)-\(batch.lastChangeId)")
    request.headers.add(
      name: "TradeTap-Signature", value: Self.signature(body: body, secret: secret, time: Int64(Date().timeIntervalSince1970)))
    request.body = .bytes(ByteBuffer(bytes: body))
    let response: HTTPClientResponse
    do {
      response = try await client.execute(request, timeout: timeout)
    } catch {
      throw OutputFailure.retryable("POST \(target): \(error)")
    }
    let status = Int(response.status.code)
    // Read (a little of) the answer so the connection can be reused, and kept for a dead letter.
    let answer = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
    switch status {
    case 200..<300: return
    case 408, 429, 500..<600: throw OutputFailure.retryable("POST \(target): \(status)")
    default: throw OutputFailure.refused(status: status, response: answer)
    }
  }
}
