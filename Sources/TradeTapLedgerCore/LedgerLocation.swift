/// Where the ledger lives, as `--database` names it (shared/spec/cli.md): the one
/// place a database text picks its backend (the collector's `LedgerBackend` opens it,
/// `verify` and `PostgresURL` ask it).
///
/// `sqlite:PATH` names a file; a bare path is not a location (no command ever took
/// one). A `postgres://` or `postgresql://` URL is kept whole, query options such as
/// `sslmode` included, and handed to the PostgreSQL backend, whose `PostgresURL`
/// parses its parts when the ledger is opened (a malformed URL fails there, with
/// the reason). Standard library only: it lives in the ledger core.
public enum LedgerLocation: Sendable, Equatable {
  case sqlite(path: String)
  case postgres(url: String)

  /// nil for any other text, `sqlite:` without a path included.
  public init?(_ text: String) {
    if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
      self = .postgres(url: text)
      return
    }
    guard text.hasPrefix("sqlite:"), text.count > "sqlite:".count else { return nil }
    self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
  }

  /// The `--database` text naming this location (the demo hands it to the collector it starts).
  public var argument: String {
    switch self {
    case .sqlite(let path): "sqlite:\(path)"
    case .postgres(let url): url
    }
  }

  /// Whether a password may come from outside the text (`--database-password-file`,
  /// `PGPASSWORD`): only a server asks for one.
  public var takesPassword: Bool {
    if case .postgres = self { true } else { false }
  }
}
