import Hummingbird
import NIOCore

/// A client error the CRM API answers with a JSON body
/// `{"error":{"code":"...","message":"..."}}`; `code` is stable, `message` is for people.
struct APIError: Error, Sendable {
  var status: HTTPResponse.Status
  var code: String
  var message: String
  /// The methods the path serves, for a 405's `Allow` header.
  var allow: String? = nil

  static func badParameter(_ name: String, _ why: String) -> APIError {
    APIError(status: .badRequest, code: "bad_parameter", message: "\(name): \(why)")
  }
  static func unknownParameter(_ name: String) -> APIError {
    APIError(status: .badRequest, code: "unknown_parameter", message: "unknown query parameter '\(name)'")
  }
  static let unauthorized = APIError(
    status: .unauthorized, code: "unauthorized", message: "send Authorization: Bearer <token>")
  static let notFound = APIError(status: .notFound, code: "not_found", message: "no such route")

  /// The JSON response of this error.
  var response: Response {
    var json = JSONWriter()
    json.object { o in
      o.field("error") {
        $0.object { e in
          e.field("code", code)
          e.field("message", message)
        }
      }
    }
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
    if let allow { headers[.allow] = allow }
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json.text)))
  }
}

/// Turns every failure into a JSON error: ``APIError`` as given, the router's
/// not-found as `not_found`, anything else as a 500 with no internals.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    do {
      return try await next(request, context)
    } catch let error as APIError {
      return error.response
    } catch let error as HTTPError where error.status == .notFound {
      return APIError.notFound.response
    } catch let error as HTTPError where error.status == .methodNotAllowed {
      return APIError(status: .methodNotAllowed, code: "method_not_allowed", message: "method not allowed on this route").response
    } catch let error as HTTPError where (400..<500).contains(error.status.code) {
      return APIError(status: error.status, code: "bad_request", message: error.body ?? "bad request").response
    } catch {
      context.logger.error("CRM API request failed", metadata: ["tradetap.error": "\(error)"])
      return APIError(status: .internalServerError, code: "internal", message: "internal error").response
    }
  }
}
