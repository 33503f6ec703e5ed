import Hummingbird
import NIOCore

/// The operator's console (docs/console.md): `GET /` and its three files, embedded
/// in the binary (``ConsolePage``, ``ConsoleScript``, ``ConsoleStyle``), no build
/// step and no CDN. The page itself holds no data and no secret, so it is served
/// without the token; everything it shows comes from the authenticated API, with
/// the token the operator types, kept in `sessionStorage` and sent as the bearer
/// header (never in a URL).
///
/// Caching: the script, style and icon are named by a hash of their bytes
/// (`/console/console.3f2a….js`) and served `immutable` for a year; the page names
/// them and is revalidated every time (`no-cache` with an `ETag`, `304` on a match).
struct ConsoleRoutes: Sendable {
  struct Asset: Sendable {
    let path: String
    let contentType: String
    let body: ByteBuffer
    let etag: String
    let cacheControl: String
  }

  static let page: Asset = {
    var html = ConsolePage.html
    html = html.replacingOccurrences(of: "{{script}}", with: script.path)
    html = html.replacingOccurrences(of: "{{style}}", with: style.path)
    html = html.replacingOccurrences(of: "{{icon}}", with: icon.path)
    return Asset(
      path: "/", contentType: "text/html; charset=utf-8", body: ByteBuffer(string: html),
      etag: "\"\(hash(html))\"", cacheControl: "no-cache")
  }()
  static let script = hashed("console", "js", "text/javascript; charset=utf-8", ConsoleScript.text)
  static let style = hashed("console", "css", "text/css; charset=utf-8", ConsoleStyle.text)
  static let icon = hashed("icon", "svg", "image/svg+xml", ConsoleStyle.icon)
  static var assets: [Asset] { [page, script, style, icon] }

  /// Paths served without the token (``BearerAuthMiddleware``): the page and its files.
  static func isPublic(method: HTTPRequest.Method, path: String) -> Bool {
    (method == .get || method == .head) && assets.contains { $0.path == path }
  }

  static var served: [(String, [HTTPRequest.Method])] { assets.map { ($0.path, [.get, .head]) } }

  func register(on router: Router<BasicRequestContext>) {
    for asset in Self.assets {
      router.get(RouterPath(asset.path)) { request, _ in Self.answer(asset, request) }
      router.head(RouterPath(asset.path)) { request, _ in Self.answer(asset, request) }
    }
  }

  static func answer(_ asset: Asset, _ request: Request) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = asset.contentType
    headers[.cacheControl] = asset.cacheControl
    headers[.eTag] = asset.etag
    if request.headers[.ifNoneMatch].map({ $0.split(separator: ",").contains { String($0.filter { $0 != " " }) == asset.etag } }) == true {
      return Response(status: .notModified, headers: headers)
    }
    let body: ResponseBody = request.method == .head ? .init() : .init(byteBuffer: asset.body)
    headers[.contentLength] = "\(asset.body.readableBytes)"
    return Response(status: .ok, headers: headers, body: body)
  }

  private static func hashed(_ name: String, _ ext: String, _ contentType: String, _ text: String) -> Asset {
    let digest = hash(text)
    return Asset(
      path: "/console/\(name).\(digest).\(ext)", contentType: contentType, body: ByteBuffer(string: text),
      etag: "\"\(digest)\"", cacheControl: "public, max-age=31536000, immutable")
  }

  /// FNV-1a, 64 bits, as 16 hex digits: a cache key for our own files, not a security boundary.
  static func hash(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      h ^= UInt64(byte)
      h = h &* 0x100_0000_01b3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}
