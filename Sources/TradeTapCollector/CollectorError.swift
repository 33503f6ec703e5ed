/// Why a collector cannot start. Each reads as one clear line for stderr.
public enum CollectorError: Error, CustomStringConvertible, Equatable {
  case secretsFile(path: String, reason: String)
  case tokenFile(path: String, reason: String)
  case tls(String)
  case invalidAddress(String)
  case unsupportedDatabase(String)
  /// The secret of a server id is shorter than ``CollectorConfiguration/minimumSecretLength`` bytes.
  case weakSecret(serverId: UInt32, length: Int)
  /// `--no-tls` on a listen address that is not loopback, without `--allow-insecure-no-tls`.
  case plaintextOffLoopback(String)

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
    case .plaintextOffLoopback(let host):
      "--no-tls is refused on \(host), which is not a loopback address: plugins' events and handshakes would cross the network unencrypted; use --tls-cert/--tls-key, or --allow-insecure-no-tls on a network you trust"
    }
  }
}
