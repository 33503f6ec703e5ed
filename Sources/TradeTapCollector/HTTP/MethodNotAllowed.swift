import Hummingbird

extension Router {
  /// Makes a request for a served path with a method it does not serve answer `405`
  /// with `Allow` (RFC 9110 §15.5.5), where the router alone answers 404 as if the
  /// path did not exist. Found by schemathesis' `unsupported_method` check (issue 10).
  /// Only requests the router found no endpoint for reach it (it is added last, so it
  /// wraps the not-found responder alone).
  /// - Parameter served: each registered path (`:name` segments match any value) and its methods.
  func answerMethodNotAllowed(served: [(path: String, methods: [HTTPRequest.Method])]) {
    add(middleware: MethodNotAllowedMiddleware(served: served.map { (Self.segments($0.path), $0.methods) }))
  }

  static func segments(_ path: String) -> [Substring] { path.split(separator: "/") }
}

struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
  let served: [(segments: [Substring], methods: [HTTPRequest.Method])]

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    do {
      return try await next(request, context)
    } catch let error as HTTPError where error.status == .notFound {
      let path = request.uri.path.split(separator: "/")
      guard let route = served.first(where: { Self.matches(path, $0.segments) }), !route.methods.contains(request.method)
      else { throw error }
      let allow = route.methods.map(\.rawValue).joined(separator: ", ")
      throw APIError(
        status: .methodNotAllowed, code: "method_not_allowed", message: "\(request.method) is not served here",
        allow: allow)
    }
  }

  static func matches(_ path: [Substring], _ pattern: [Substring]) -> Bool {
    path.count == pattern.count && zip(path, pattern).allSatisfy { $1.hasPrefix(":") || $0 == $1 }
  }
}
