import Foundation
import Logging
import NIOSSL
import PostgresNIO
import TradeTapLedger

/// `postgres://user:pass@host:port/db[?sslmode=disable|prefer|require]` as a
/// `PostgresClient` configuration. User and password may be percent-encoded.
public struct PostgresURL: Sendable, CustomStringConvertible {
  public var host: String
  public var port: Int
  public var username: String
  public var password: String?
  public var database: String
  public var sslMode: String

  /// Whether `url` names a PostgreSQL ledger (`postgres://` or `postgresql://`).
  public static func matches(_ url: String) -> Bool {
    url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
  }

  /// - Throws: ``LedgerError/unsupportedDatabase(_:)`` for anything but a complete URL.
  public init(_ url: String) throws {
    guard Self.matches(url), let components = URLComponents(string: url), let host = components.host,
      !host.isEmpty, let user = components.user, !user.isEmpty
    else { throw LedgerError.unsupportedDatabase(Self.redacted(url)) }
    self.host = host
    port = components.port ?? 5432
    username = user
    password = components.password
    let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
    database = path.isEmpty ? user : path
    sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
    guard ["disable", "prefer", "require"].contains(sslMode) else {
      throw LedgerError.unsupportedDatabase(Self.redacted(url))
    }
  }

  /// The same server, another database (tests create one per test).
  public func with(database: String) -> PostgresURL {
    var copy = self
    copy.database = database
    return copy
  }

  /// The URL without its password, for logs and errors.
  public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }

  static func redacted(_ url: String) -> String {
    guard let at = url.lastIndex(of: "@"), let scheme = url.range(of: "://") else { return url }
    return String(url[..<scheme.upperBound]) + "***" + String(url[at...])
  }

  /// One direct connection, closed at once: an unreachable server or a refused
  /// login fails here with its cause, instead of a pool that retries forever.
  func probe(logger: Logger) async throws {
    let tls: PostgresConnection.Configuration.TLS =
      switch sslMode {
      case "disable": .disable
      case "require": .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
      default: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
      }
    var configuration = PostgresConnection.Configuration(
      host: host, port: port, username: username, password: password, database: database, tls: tls)
    configuration.options.connectTimeout = .seconds(10)
    let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    try await connection.close()
  }

  var clientConfiguration: PostgresClient.Configuration {
    let tls: PostgresClient.Configuration.TLS =
      switch sslMode {
      case "disable": .disable
      case "require": .require(.makeClientConfiguration())
      default: .prefer(.makeClientConfiguration())
      }
    var configuration = PostgresClient.Configuration(
      host: host, port: port, username: username, password: password, database: database, tls: tls)
    // Every commit waits for its WAL flush: an acknowledged event survives a crash of
    // the database server (the ledger's durability contract), whatever the server's default.
    configuration.options.additionalStartupParameters = [("synchronous_commit", "on"), ("TimeZone", "UTC")]
    configuration.options.maximumConnections = 8
    return configuration
  }
}
