import Foundation
import Logging
import NIOSSL
import PostgresNIO
import TradeTapLedger

/// `postgres://user:pass@host:port/db[?sslmode=disable|prefer|require]` as a
/// `PostgresClient` configuration. User and password may be percent-encoded.
///
/// The password need not be in the URL (where `ps` shows it): without one, it is
/// `PGPASSWORD`'s, or the caller's (`--database-password-file`).
///
/// A password goes only over TLS unless the URL says `sslmode=disable` (issue 10,
/// finding 7: under `prefer`, a server that declined TLS and asked for the password
/// in clear received it). postgres-nio answers whatever authentication the server
/// asks for and has no hook to refuse cleartext or MD5 per connection, so the rule is
/// per URL: with a password, `prefer` means `require`. docs/ledger.md, "PostgreSQL".
public struct PostgresURL: Sendable, CustomStringConvertible {
  public var host: String
  public var port: Int
  public var username: String
  public var password: String?
  public var database: String
  public var sslMode: String

  /// Whether `url` names a PostgreSQL ledger (`postgres://` or `postgresql://`).
  public static func matches(_ url: String) -> Bool {
    if case .postgres = LedgerLocation(url) { true } else { false }
  }

  /// - Parameter environment: where `PGPASSWORD` is read when the URL has no password.
  /// - Throws: ``LedgerError/unsupportedDatabase(_:)`` for anything but a complete URL.
  public init(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
    guard Self.matches(url), let components = URLComponents(string: url), let host = components.host,
      !host.isEmpty, let user = components.user, !user.isEmpty
    else { throw LedgerError.unsupportedDatabase(Self.redacted(url)) }
    self.host = host
    port = components.port ?? 5432
    username = user
    password = components.password ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
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

  /// The TLS the driver is given: `disable` as asked; `require` as asked, and for
  /// `prefer` whenever there is a password to protect; `prefer` only without one.
  enum TLSPolicy { case disable, prefer, require }

  var tlsPolicy: TLSPolicy {
    switch sslMode {
    case "disable": .disable
    case "require": .require
    default: password == nil ? .prefer : .require
    }
  }

  /// One direct connection, closed at once: an unreachable server or a refused
  /// login fails here with its cause, instead of a pool that retries forever.
  func probe(logger: Logger) async throws {
    let tls: PostgresConnection.Configuration.TLS =
      switch tlsPolicy {
      case .disable: .disable
      case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
      case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
      }
    var configuration = PostgresConnection.Configuration(
      host: host, port: port, username: username, password: password, database: database, tls: tls)
    configuration.options.connectTimeout = .seconds(10)
    do {
      let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
      try await connection.close()
    } catch let error as PSQLError where error.code == .sslUnsupported {
      throw LedgerError.unavailableDatabase(
        "\(self): the server does not offer TLS, and the password is sent only over TLS (sslmode=\(sslMode)): a server that declines TLS and asks for it in clear or MD5 may be anyone on the path. Give the server a certificate, or add sslmode=disable to the URL on a network you trust")
    }
  }

  var clientConfiguration: PostgresClient.Configuration {
    let tls: PostgresClient.Configuration.TLS =
      switch tlsPolicy {
      case .disable: .disable
      case .require: .require(.makeClientConfiguration())
      case .prefer: .prefer(.makeClientConfiguration())
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
