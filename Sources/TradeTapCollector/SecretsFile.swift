import Foundation

/// Reads the collector's `--secrets` file: one trade server per line,
/// `<server_id> <secret>`, `#` comments and blank lines ignored. The secret is the
/// rest of the line, trimmed; its UTF-8 bytes are the HMAC key (as the plugin's
/// `SecretFile`).
///
/// The file must not be readable or writable by group or others: a secret anyone
/// on the machine can read is no secret, so such a file is refused, as ssh refuses
/// such keys.
public enum SecretsFile {
  /// - Returns: the secret of each server id.
  /// - Throws: ``CollectorError/secretsFile(path:reason:)`` naming the line or the mode.
  public static func load(path: String) throws -> [UInt32: [UInt8]] {
    if let problem = PrivateFile.problem(path: path) {
      throw CollectorError.secretsFile(path: path, reason: problem)
    }
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
    else { throw CollectorError.secretsFile(path: path, reason: "cannot be read as UTF-8 text") }
    return try parse(text, path: path)
  }

  /// Parses the file's text (exposed for tests of the format).
  public static func parse(_ text: String, path: String = "secrets") throws -> [UInt32: [UInt8]] {
    var secrets: [UInt32: [UInt8]] = [:]
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
      if line.isEmpty || line.hasPrefix("#") { continue }
      let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
      guard parts.count == 2, let id = UInt32(parts[0]) else {
        throw CollectorError.secretsFile(path: path, reason: "line \(index + 1): expected '<server_id> <secret>'")
      }
      let secret = parts[1].trimmingCharacters(in: .whitespaces)
      guard !secret.isEmpty else {
        throw CollectorError.secretsFile(path: path, reason: "line \(index + 1): empty secret")
      }
      guard secrets[id] == nil else {
        throw CollectorError.secretsFile(path: path, reason: "line \(index + 1): server id \(id) listed twice")
      }
      secrets[id] = Array(secret.utf8)
    }
    return secrets
  }
}

/// The check every file holding a secret passes (`--secrets`, `--api-token-file`,
/// `--tls-key`): a regular file that neither group nor others may read or write.
public enum PrivateFile {
  /// Why the file at `path` must not be used, or nil when it is private.
  public static func problem(path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else { return String(cString: strerror(errno)) }
    guard info.st_mode & S_IFMT == S_IFREG else { return "not a regular file" }
    guard info.st_mode & 0o077 == 0 else {
      let mode = String(info.st_mode & 0o777, radix: 8)
      return "mode \(mode) lets group or others read it; run chmod 600 \(path)"
    }
    return nil
  }
}

/// Reads a one-line token file (`--api-token-file`): the first line, trimmed. Like
/// the secrets file, it must be private (``PrivateFile``).
public enum TokenFile {
  /// - Throws: ``CollectorError/tokenFile(path:reason:)`` when unreadable, empty or
  ///   readable by group or others.
  public static func load(path: String) throws -> [UInt8] {
    if let problem = PrivateFile.problem(path: path) {
      throw CollectorError.tokenFile(path: path, reason: problem)
    }
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
    else { throw CollectorError.tokenFile(path: path, reason: "cannot be read") }
    let token = text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    guard !token.isEmpty else { throw CollectorError.tokenFile(path: path, reason: "empty") }
    return Array(token.utf8)
  }
}
