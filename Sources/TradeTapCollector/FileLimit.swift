import Glibc

/// The process's open-file limit (RLIMIT_NOFILE), which the plugin port, the HTTP
/// listener, the ledger and NIO all draw from (issue 10, finding 5: 320 idle HTTP
/// sockets under `ulimit -n 300` left no descriptor for a plugin's login).
/// docs/collector.md, "Open files".
public enum FileLimit {
  /// Descriptors no listener may take: stdio, the ledger (SQLite's file, -wal, -shm)
  /// or PostgreSQL's pool (8), NIO's event loops (epoll, eventfd, timerfd each), the
  /// two listening sockets, files the collector opens at run time. Measured at
  /// about 30 on 2 cores; twice that leaves room for more cores.
  public static let reserve = 64

  /// HTTP connections when `--http-max-connections` is not given, if the limit allows.
  public static let defaultHTTPConnections = 1_024

  /// Raises the soft limit to the hard one (a server should not run out of
  /// descriptors at a default meant for interactive shells).
  /// - Returns: the soft limit before and the one now in force.
  @discardableResult
  public static func raiseSoftToHard() -> (before: UInt64, now: UInt64) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
    let before = UInt64(limit.rlim_cur)
    guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
    var raised = limit
    // An unlimited hard limit cannot be the soft one (the kernel caps at fs.nr_open).
    raised.rlim_cur = limit.rlim_max == rlim_t.max ? max(limit.rlim_cur, 1 << 20) : limit.rlim_max
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return (before, UInt64(raised.rlim_cur)) }
    return (before, before)
  }

  /// The soft limit in force.
  public static var current: UInt64 {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    return UInt64(limit.rlim_cur)
  }

  /// The HTTP listener's share: at most half of what the reserve leaves, so the
  /// plugin port always keeps the other half.
  /// - Parameters:
  ///   - asked: `--http-max-connections`, or nil for ``defaultHTTPConnections``.
  ///   - limit: the soft RLIMIT_NOFILE.
  /// - Returns: the cap (at least 1), and whether the limit lowered it below `asked`.
  public static func httpConnectionCap(asked: Int?, limit: UInt64) -> (cap: Int, lowered: Bool) {
    let wanted = asked ?? defaultHTTPConnections
    let share = Int(clamping: limit > UInt64(reserve) ? (limit - UInt64(reserve)) / 2 : 0)
    let cap = max(1, min(wanted, share))
    return (cap, cap < wanted)
  }
}
