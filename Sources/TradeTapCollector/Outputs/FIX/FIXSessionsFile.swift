import Foundation

/// One FIX drop copy session the collector accepts (a line of `--fix-sessions`).
public struct FIXSessionSettings: Sendable, Hashable {
  /// The collector's CompID: SenderCompID (49) of what it sends.
  public var senderCompID: String
  /// The back office's CompID: TargetCompID (56) of what the collector sends.
  public var targetCompID: String
  /// `8` (ExecutionReport), the only report so far; `AE` is refused (docs/fix.md).
  public var report: String = "8"
  /// Password (554) the back office's Logon must carry; nil: none asked.
  public var password: [UInt8]?

  /// The output's name, stable across restarts: it keys the cursor and the sequence numbers.
  public var name: String { "fix-\(senderCompID)-\(targetCompID)" }
}

/// The FIX acceptor's settings (`--fix-listen`, `--fix-sessions`).
public struct FIXSettings: Sendable {
  public var host: String
  public var port: Int
  public var sessions: [FIXSessionSettings]
  /// FIX over TLS (`--fix-tls-cert`, `--fix-tls-key`; TLS 1.2 or 1.3); nil: plaintext.
  public var tls: CollectorConfiguration.TLSFiles?

  public init(host: String, port: Int, sessions: [FIXSessionSettings], tls: CollectorConfiguration.TLSFiles? = nil) {
    self.host = host
    self.port = port
    self.sessions = sessions
    self.tls = tls
  }
}

/// Reads `--fix-sessions`: one session per line, from the collector's side,
/// `<SenderCompID> <TargetCompID> [report=8|AE] [password-file=PATH]`; `#` comments and
/// blank lines ignored. The password file passes the same checks as every secret
/// (``PrivateFile``); so does the sessions file, since it names them.
public enum FIXSessionsFile {
  public struct Problem: Error, CustomStringConvertible {
    public let description: String
  }

  public static func load(path: String) throws -> [FIXSessionSettings] {
    if let problem = PrivateFile.problem(path: path) { throw Problem(description: "--fix-sessions \(path): \(problem)") }
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
    else { throw Problem(description: "--fix-sessions \(path): cannot be read as UTF-8 text") }
    return try parse(text, path: path) { file in
      if let problem = PrivateFile.problem(path: file) { throw Problem(description: "password-file \(file): \(problem)") }
      return try TokenFile.load(path: file)
    }
  }

  /// Parses the file's text; `password` reads a password file.
  public static func parse(
    _ text: String, path: String = "sessions", password: (String) throws -> [UInt8]
  ) throws -> [FIXSessionSettings] {
    var sessions: [FIXSessionSettings] = []
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      func fail(_ why: String) -> Problem { Problem(description: "--fix-sessions \(path) line \(index + 1): \(why)") }
      guard words.count >= 2 else { throw fail("expected '<SenderCompID> <TargetCompID> [report=8|AE] [password-file=PATH]'") }
      for id in words[0...1] where !id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "=") }) {
        throw fail("CompID '\(id)': printable ASCII without '=' only")
      }
      var session = FIXSessionSettings(senderCompID: words[0], targetCompID: words[1])
      for option in words.dropFirst(2) {
        if option == "report=8" {
          session.report = "8"
        } else if option == "report=AE" {
          throw fail("report=AE (TradeCaptureReport) is not supported yet: use report=8 (docs/fix.md)")
        } else if option.hasPrefix("password-file=") {
          session.password = try password(String(option.dropFirst("password-file=".count)))
        } else {
          throw fail("unknown option '\(option)'")
        }
      }
      guard !sessions.contains(where: { $0.senderCompID == session.senderCompID && $0.targetCompID == session.targetCompID })
      else { throw fail("session \(session.senderCompID) \(session.targetCompID) listed twice") }
      sessions.append(session)
    }
    guard !sessions.isEmpty else { throw Problem(description: "--fix-sessions \(path): no session") }
    return sessions
  }
}
