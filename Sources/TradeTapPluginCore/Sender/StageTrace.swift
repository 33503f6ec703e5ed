import Glibc

/// Where the time between a hook and the collector goes (docs/benchmarks-pipeline.md,
/// "Stage breakdown"): with `TRADETAP_STAGE_TRACE=PATH` in the host's environment, the
/// sender appends one line per batch it sends to `PATH.sender`:
///
///     <first wire seq> <events> <hook ns> <wake ns> <read ns> <encoded ns> <written ns>
///
/// all CLOCK_MONOTONIC (the hook's cycle counter converted by the journal reader), so
/// the collector's `PATH.collector` lines (same clock, same machine) join on the first
/// sequence. A diagnostic, off by default: the hooks never see it (their stamp is the
/// one the journal already holds); the sender pays four clock reads and one `write`
/// per batch, after the batch's own `written` stamp.
final class StageTrace {
  private let fd: Int32
  /// When the sender's last wait for the journal returned.
  var wake: UInt64 = 0

  private init(fd: Int32) { self.fd = fd }

  /// The trace `TRADETAP_STAGE_TRACE` asks for; nil when unset or unopenable.
  static func fromEnvironment() -> StageTrace? {
    guard let base = getenv("TRADETAP_STAGE_TRACE"), base.pointee != 0 else { return nil }
    let path = String(cString: base) + ".sender"
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    return fd >= 0 ? StageTrace(fd: fd) : nil
  }

  func batch(firstSequence: UInt64, events: Int, hook: UInt64, read: UInt64, encoded: UInt64, written: UInt64) {
    let line = "\(firstSequence) \(events) \(hook) \(wake) \(read) \(encoded) \(written)\n"
    var bytes = Array(line.utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
  }

  deinit { close(fd) }
}
