/// Why a collector cannot start. Each reads as one clear line for stderr.
public enum CollectorError: Error, CustomStringConvertible, Equatable {
  case secretsFile(path: String, reason: String)
  case tokenFile(path: String, reason: String)
  case tls(String)
  case invalidAddress(String)
  case unsupportedDatabase(String)
  /// The secret of a server id is shorter than ``CollectorConfiguration/minimumSecretLength`` bytes.
  case weakSecret(serverId: UInt32, length: Int)

  public var description: String {
    switch self {
    case .secretsFile(let path, let reason): "secrets file \(path): \(reason)"
    case .tokenFile(let path, let reason): "API token file \(path): \(reason)"
    case .tls(let reason): "TLS: \(reason)"
    case .invalidAddress(let text): "invalid address '\(text)': expected HOST:PORT"
    case .weakSecret(let serverId, let length):
      "the secret of server id \(serverId) is \(length) bytes; at least \(CollectorConfiguration.minimumSecretLength) are required (e.g. openssl rand -hex 32)"
    case .unsupportedDatabase(let url):
      "database '\(url)' is not supported yet: use sqlite:PATH (PostgreSQL support is planned)"
    }
  }
}
