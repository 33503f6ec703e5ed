import Hummingbird

/// Puts the browser-facing security headers on every response of the HTTP port,
/// errors included (it sits outside ``APIErrorMiddleware``): the operator's console
/// (`GET /`, docs/console.md) runs in a browser, and so may any page that a
/// mistaken link opens on this port.
///
/// - `Content-Security-Policy`: only this origin's own files; no inline script or
///   style, no `eval`, no framing (`frame-ancestors 'none'`), no `<base>`.
/// - `X-Content-Type-Options: nosniff`: a JSON body is never run as script.
/// - `Referrer-Policy: no-referrer`: a link out of the console names nothing of it.
/// - `X-Frame-Options: DENY`: `frame-ancestors` for browsers that predate it.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
  static var contentSecurityPolicy: String {
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
      + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
  }

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    var response = try await next(request, context)
    response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
    response.headers[.xContentTypeOptions] = "nosniff"
    response.headers[.init("Referrer-Policy")!] = "no-referrer"
    response.headers[.init("X-Frame-Options")!] = "DENY"
    return response
  }
}
