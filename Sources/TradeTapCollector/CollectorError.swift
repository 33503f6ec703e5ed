/// Why a collector cannot start. Each reads as one clear line for stderr.
public enum CollectorError: Error, CustomStringConvertible, Equatable {
  case secretsFile(path: String, reason: String)
  case tokenFile(path: String, reason: String)
  case tls(String)
  case invalidAddress(String)
  case unsupportedDatabase(String)

  public var description: String {
    switch self {
    case .secretsFile(let path, let reason): "secrets file \(path): \(reason)"
    case .tokenFile(let path, let reason): "API token file \(path): \(reason)"
    case .tls(let reason): "TLS: \(reason)"
    case .invalidAddress(let text): "invalid address '\(text)': expected HOST:PORT"
    case .unsupportedDatabase(let url):
      "database '\(url)' is not supported yet: use sqlite:PATH (PostgreSQL support is planned)"
    }
  }
}
