import Hummingbird
import TradeTapWire

/// Requires `Authorization: Bearer <token>` on every route, `/healthz` and `/metrics`
/// included (issue 5: "Every route requires Authorization"; the metrics name trade
/// servers and volumes). Two tokens: the read token (`--api-token-file`) reads; the
/// write token (`--api-write-token-file`, optional) reads and writes (the CRM's
/// commands, ``CommandRoutes/isWrite(method:path:)``). No token or an unknown one is
/// `401`; the read token on a write is `403` (`write_token_required`, or
/// `writes_disabled` when no write token is configured). Tokens are compared in
/// constant time; an empty configured token matches nothing.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
  let token: [UInt8]
  /// Empty: writes are disabled.
  var writeToken: [UInt8] = []

  static var writesDisabled: APIError {
    APIError(
      status: .forbidden, code: "writes_disabled",
      message: "this collector takes no writes: start it with --api-write-token-file")
  }
  static var writeTokenRequired: APIError {
    APIError(status: .forbidden, code: "write_token_required", message: "the read token cannot write; send the write token")
  }

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    // The console's page and files hold no data; what they show, they fetch with the token.
    if ConsoleRoutes.isPublic(method: request.method, path: request.uri.path) { return try await next(request, context) }
    guard let presented = Self.bearer(request.headers[.authorization]) else { throw APIError.unauthorized }
    // Both comparisons always run, so the time taken does not tell which token it nearly was.
    let isWriteToken = !writeToken.isEmpty && constantTimeEqual(presented, writeToken)
    let isReadToken = !token.isEmpty && constantTimeEqual(presented, token)
    guard isWriteToken || isReadToken else { throw APIError.unauthorized }
    if !isWriteToken, CommandRoutes.isWrite(method: request.method, path: request.uri.path) {
      throw writeToken.isEmpty ? Self.writesDisabled : Self.writeTokenRequired
    }
    return try await next(request, context)
  }

  private static func bearer(_ value: String?) -> [UInt8]? {
    guard let value, value.hasPrefix("Bearer ") else { return nil }
    return Array(value.utf8.dropFirst(7))
  }
}
