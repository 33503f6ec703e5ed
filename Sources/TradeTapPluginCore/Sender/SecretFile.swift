import Glibc

/// Reads this server's shared secret from the `SecretFile` parameter's file.
///
/// The file must be a regular file that only its owner may read or write (mode
/// `0600` or `0400`): a secret that group or others can read (or replace) is refused,
/// as ssh refuses such keys and `tradetap collector --secrets` refuses such files.
/// Format: the first line that is neither empty nor a `#` comment, with surrounding
/// spaces and the line ending trimmed; its UTF-8 bytes are the HMAC key.
public enum SecretFile {
  /// Largest file read; a secret is a line, not a document.
  public static let maximumSize = 4096

  /// - Returns: the secret's bytes.
  /// - Throws: `SenderError.secretFile` naming the reason.
  public static func read(path: String) throws(SenderError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { throw .secretFile(path: path, reason: errnoText(errno)) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .secretFile(path: path, reason: errnoText(errno)) }
    guard info.st_mode & S_IFMT == S_IFREG else {
      throw .secretFile(path: path, reason: "not a regular file")
    }
    let access = info.st_mode & 0o077
    guard access == 0 else {
      let octal = String(info.st_mode & 0o777, radix: 8)
      throw .secretFile(
        path: path, reason: "mode \(octal) lets group or others access it; run chmod 600 \(path)")
    }
    var content = [UInt8](repeating: 0, count: maximumSize + 1)
    var used = 0
    while used < content.count {
      let n = content.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + used, $0.count - used) }
      if n == 0 { break }
      if n < 0 {
        if errno == EINTR { continue }
        throw .secretFile(path: path, reason: errnoText(errno))
      }
      used += n
    }
    guard used <= maximumSize else {
      throw .secretFile(path: path, reason: "larger than \(maximumSize) bytes")
    }
    for line in content[..<used].split(separator: UInt8(ascii: "\n")) {
      var bytes = line[...]
      while let b = bytes.first, b == 0x20 || b == 0x09 || b == 0x0D { bytes = bytes.dropFirst() }
      while let b = bytes.last, b == 0x20 || b == 0x09 || b == 0x0D { bytes = bytes.dropLast() }
      if bytes.isEmpty || bytes.first == UInt8(ascii: "#") { continue }
      return Array(bytes)
    }
    throw .secretFile(path: path, reason: "no secret in the file (empty or only comments)")
  }
}
