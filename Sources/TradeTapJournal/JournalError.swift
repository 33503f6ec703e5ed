/// Why a journal could not be opened.
public enum JournalError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A file-system call failed: the call's name, the path and `errno`.
  case system(call: String, path: String, errno: Int32)
  /// Another process (or another open journal in this one) holds the file.
  case locked(path: String)
  /// The file exists but is not a journal this version can read.
  case corrupt(path: String, reason: String)
  /// `Journal.SizeMB` is outside what the journal supports.
  case invalidSize(megabytes: Int)

  public var description: String {
    switch self {
    case .system(let call, let path, let errno):
      return "journal: \(call)(\(path)) failed: errno \(errno)"
    case .locked(let path):
      return "journal: \(path) is in use by another process"
    case .corrupt(let path, let reason):
      return "journal: \(path) is not a usable journal: \(reason)"
    case .invalidSize(let megabytes):
      return "journal: size \(megabytes) MB is outside 1...65536"
    }
  }
}
