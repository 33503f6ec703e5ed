import NIOCore
import NIOHTTP1
import TradeTapWire

/// The collector's HTTP surface so far: `GET /healthz` (open, for probes) and
/// `GET /metrics` (Prometheus text, bearer token required). The CRM API joins later.
final class HTTPAPIHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let metrics: CollectorMetrics
  private let apiToken: [UInt8]
  private var request: HTTPRequestHead?

  init(metrics: CollectorMetrics, apiToken: [UInt8]) {
    self.metrics = metrics
    self.apiToken = apiToken
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      request = head
    case .body:
      break
    case .end:
      guard let head = request else { return }
      request = nil
      let (status, contentType, body) = respond(to: head)
      var headers = HTTPHeaders()
      headers.add(name: "Content-Type", value: contentType)
      headers.add(name: "Content-Length", value: "\(body.utf8.count)")
      if status == .unauthorized { headers.add(name: "WWW-Authenticate", value: "Bearer") }
      if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
      context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
      context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
      let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
      if !head.isKeepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }
  }

  private func respond(to head: HTTPRequestHead) -> (HTTPResponseStatus, String, String) {
    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
    guard head.method == .GET else { return (.methodNotAllowed, "text/plain", "method not allowed\n") }
    if path == "/healthz" { return (.ok, "text/plain", "ok\n") }
    guard isAuthorized(head.headers) else { return (.unauthorized, "text/plain", "unauthorized\n") }
    switch path {
    case "/metrics": return (.ok, "text/plain; version=0.0.4", metrics.prometheusText())
    default: return (.notFound, "text/plain", "not found\n")
    }
  }

  /// `Authorization: Bearer <token>`, compared in constant time.
  private func isAuthorized(_ headers: HTTPHeaders) -> Bool {
    guard !apiToken.isEmpty, let value = headers.first(name: "Authorization") else { return false }
    let prefix = "Bearer "
    guard value.hasPrefix(prefix) else { return false }
    return constantTimeEqual(Array(value.utf8.dropFirst(prefix.utf8.count)), apiToken)
  }
}
