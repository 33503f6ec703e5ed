import COpenSSL
import CTradeTapTLS

/// An OpenSSL client context for the collector link: TLS 1.3 only, peer
/// verification on, trusting `TLS.CAFile` or else the system store.
public final class TLSClientContext: @unchecked Sendable {
  let context: OpaquePointer

  /// - Parameter caFile: PEM bundle of the CA that signs the collector's
  ///   certificate; nil trusts the system store.
  /// - Throws: `SenderError.tls` with OpenSSL's reason (missing or unreadable CA file).
  public init(caFile: String?) throws(SenderError) {
    ERR_clear_error()
    let made: OpaquePointer? =
      if let caFile { caFile.withCString { tt_tls_client_context($0) } } else { tt_tls_client_context(nil) }
    guard let made else {
      throw .tls("cannot create the client context (CA file \(caFile ?? "system store")): \(openSSLErrors())")
    }
    context = made
  }

  deinit { SSL_CTX_free(context) }
}

/// Drains OpenSSL's thread-local error queue into one line.
func openSSLErrors() -> String {
  var parts: [String] = []
  while true {
    let code = ERR_get_error()
    if code == 0 { break }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    parts.append(cText(buffer))
  }
  return parts.isEmpty ? "no OpenSSL reason" : parts.joined(separator: "; ")
}
