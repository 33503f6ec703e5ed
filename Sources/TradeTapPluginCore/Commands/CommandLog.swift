import Glibc
import TradeTapWire

/// The plugin's durable record of the commands it ran (docs/commands.md): a file of
/// fixed 64-byte records beside the journal (`<Journal.Path>.commands`), appended
/// and `fdatasync`ed one record at a time. Commands come at CRM pace, so the sync
/// per record costs nothing that matters, and it is what makes "at most once" hold
/// through a crash:
/// - an **intent** is durable before the host call: after a crash, a command with an
///   intent and no result may have reached the platform, so it is resolved from the
///   platform's records (its `TT#<id>` marker), never run blindly again;
/// - a **result** is durable before it is reported: a finished command is answered
///   from here however often the collector sends it again.
///
/// Record: `"TTCM"`, `u8` kind (1 intent, 2 result), `u8` status (result: 1 done,
/// 2 rejected), `u16` 0, `u64` command id, `i64` intent broker ms, `i32` host result,
/// `u32` 0, `u64` deal, `u64` login, `u64` 0, `u32` 0, `u32` CRC32C of bytes 0..<60.
/// A torn last record (a crash mid-write) fails its CRC and is cut off at open; a
/// damaged record with intact ones after it makes the open fail (nothing is guessed).
/// Only the sender's command thread touches it.
package final class CommandLog {
  package static let recordSize = 64
  static let magic: [UInt8] = Array("TTCM".utf8)

  package struct Intent: Equatable {
    package var brokerMilliseconds: Int64
  }

  package struct Result: Equatable {
    package var status: CommandResultStatus
    package var hostResult: Int32
    package var deal: UInt64
    package var login: UInt64
    package init(status: CommandResultStatus, hostResult: Int32, deal: UInt64, login: UInt64) {
      self.status = status
      self.hostResult = hostResult
      self.deal = deal
      self.login = login
    }
  }

  private let fd: Int32
  package let path: String
  package private(set) var intents: [UInt64: Intent] = [:]
  package private(set) var results: [UInt64: Result] = [:]

  /// Opens (creating, mode 0600) and reads the record. - Returns: nil with the reason.
  package static func open(path: String) -> (CommandLog?, String?) {
    let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return (nil, "cannot open \(path): errno \(errno)") }
    let log = CommandLog(fd: fd, path: path)
    if let problem = log.load() {
      Glibc.close(fd)
      return (nil, problem)
    }
    return (log, nil)
  }

  private init(fd: Int32, path: String) {
    self.fd = fd
    self.path = path
  }

  deinit { Glibc.close(fd) }

  /// Reads every whole, valid record; cuts off a torn tail.
  private func load() -> String? {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    var offset: off_t = 0
    while true {
      let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
      if n < 0 {
        if errno == EINTR { continue }
        return "cannot read \(path): errno \(errno)"
      }
      if n == 0 { break }
      bytes.append(contentsOf: chunk[..<n])
      offset += off_t(n)
    }
    var valid = 0
    while valid + Self.recordSize <= bytes.count {
      guard apply(Array(bytes[valid..<(valid + Self.recordSize)])) else { break }
      valid += Self.recordSize
    }
    // Only a torn tail is cut off. A damaged record with intact ones after it is disk
    // damage: cutting there could drop an intent, and a command whose intent is lost
    // would run again. The plugin runs no command until a person has looked.
    var later = valid + Self.recordSize
    while later + Self.recordSize <= bytes.count {
      if Self.isRecord(Array(bytes[later..<(later + Self.recordSize)])) {
        return "the record at byte \(valid) of \(path) is damaged and intact records follow it: move the file aside once you have checked the platform for TT# marks of the commands it held"
      }
      later += Self.recordSize
    }
    if valid < bytes.count {
      guard ftruncate(fd, off_t(valid)) == 0, fdatasync(fd) == 0 else {
        return "cannot cut the torn tail of \(path) at \(valid): errno \(errno)"
      }
    }
    end = off_t(valid)
    return nil
  }

  private var end: off_t = 0

  private static func isRecord(_ record: [UInt8]) -> Bool {
    Array(record[0..<4]) == magic && CRC32C.checksum(record, range: 0..<60) == u32(record, 60)
  }

  private func apply(_ record: [UInt8]) -> Bool {
    guard Self.isRecord(record) else { return false }
    let id = Self.u64(record, 8)
    switch record[4] {
    case 1:
      intents[id] = Intent(brokerMilliseconds: Int64(bitPattern: Self.u64(record, 16)))
    case 2:
      guard let status = CommandResultStatus(rawValue: record[5]), status != .unknown else { return false }
      results[id] = Result(
        status: status, hostResult: Int32(bitPattern: Self.u32(record, 24)), deal: Self.u64(record, 32),
        login: Self.u64(record, 40))
    default:
      return false
    }
    return true
  }

  /// Makes the intent durable. - Returns: nil, or why it is not (then the command must not run).
  package func recordIntent(commandId: UInt64, brokerMilliseconds: Int64) -> String? {
    var record = Self.header(kind: 1, status: 0, commandId: commandId)
    Self.put(UInt64(bitPattern: brokerMilliseconds), into: &record, at: 16)
    if let problem = append(record) { return problem }
    intents[commandId] = Intent(brokerMilliseconds: brokerMilliseconds)
    return nil
  }

  /// Makes a final result durable. - Returns: nil, or why it is not (then it must not be reported).
  package func recordResult(commandId: UInt64, _ result: Result) -> String? {
    var record = Self.header(kind: 2, status: result.status.rawValue, commandId: commandId)
    Self.put(UInt64(UInt32(bitPattern: result.hostResult)), into: &record, at: 24, size: 4)
    Self.put(result.deal, into: &record, at: 32)
    Self.put(result.login, into: &record, at: 40)
    if let problem = append(record) { return problem }
    results[commandId] = result
    return nil
  }

  private func append(_ unsealed: [UInt8]) -> String? {
    var record = unsealed
    Self.put(UInt64(CRC32C.checksum(record, range: 0..<60)), into: &record, at: 60, size: 4)
    var written = 0
    while written < record.count {
      let n = record.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, $0.count - written, end + off_t(written)) }
      if n < 0 {
        if errno == EINTR { continue }
        return "cannot write \(path): errno \(errno)"
      }
      written += n
    }
    guard fdatasync(fd) == 0 else { return "cannot sync \(path): errno \(errno)" }
    end += off_t(record.count)
    return nil
  }

  private static func header(kind: UInt8, status: UInt8, commandId: UInt64) -> [UInt8] {
    var record = [UInt8](repeating: 0, count: recordSize)
    record.replaceSubrange(0..<4, with: magic)
    record[4] = kind
    record[5] = status
    put(commandId, into: &record, at: 8)
    return record
  }

  private static func put(_ value: UInt64, into record: inout [UInt8], at offset: Int, size: Int = 8) {
    for i in 0..<size { record[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
  }

  private static func u64(_ record: [UInt8], _ offset: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(record[offset + $1]) << (8 * UInt64($1)) }
  }

  private static func u32(_ record: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(record[offset + $1]) << (8 * UInt32($1)) }
  }
}
