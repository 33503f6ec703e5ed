import Hummingbird
import TradeTapWire

/// Requires `Authorization: Bearer <token>` on every route, `/healthz` and `/metrics`
/// included (issue 5: "Every route requires Authorization"; the metrics name trade
/// servers and volumes). The token is compared in constant time; an empty configured
/// token refuses everyone.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
  let token: [UInt8]

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    guard authorized(request.headers[.authorization]) else { throw APIError.unauthorized }
    return try await next(request, context)
  }

  private func authorized(_ value: String?) -> Bool {
    guard !token.isEmpty, let value, value.hasPrefix("Bearer ") else { return false }
    return constantTimeEqual(Array(value.utf8.dropFirst(7)), token)
  }
}
