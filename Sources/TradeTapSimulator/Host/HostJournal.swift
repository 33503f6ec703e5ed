import Foundation

/// The server's own journal: one line per message, `time<TAB>source<TAB>level<TAB>text`,
/// to a file (appended) or stderr. Thread-safe: plugins log from any thread.
public final class HostJournal: @unchecked Sendable {
  private let lock = NSLock()
  private let handle: FileHandle
  private var lines: [String] = []
  private let keepsLines: Bool

  /// - Parameters:
  ///   - path: journal file; nil writes to stderr.
  ///   - keepsLines: also keep every line in memory (tests read them).
  public init(path: String?, keepsLines: Bool = false) throws {
    if let path {
      if !FileManager.default.fileExists(atPath: path) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
      }
      guard let handle = FileHandle(forWritingAtPath: path) else {
        throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
      }
      handle.seekToEndOfFile()
      self.handle = handle
    } else {
      handle = FileHandle.standardError
    }
    self.keepsLines = keepsLines
  }

  /// Level names as the journal shows them.
  static func levelName(_ level: Int32) -> String {
    switch level {
    case 0: "DEBUG"
    case 1: "INFO"
    case 2: "WARN"
    case 3: "ERROR"
    default: "LEVEL\(level)"
    }
  }

  public func write(source: String, level: Int32, _ message: String) {
    let now = Date()
    let stamp = now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
    let line = "\(stamp)\t\(source)\t\(Self.levelName(level))\t\(message)\n"
    lock.lock()
    defer { lock.unlock() }
    handle.write(Data(line.utf8))
    if keepsLines { lines.append(line) }
  }

  /// Lines written so far (only when created with `keepsLines`).
  public var writtenLines: [String] {
    lock.lock()
    defer { lock.unlock() }
    return lines
  }
}
