import CTradeTapTLS
import Glibc
import Synchronization

/// An eventfd that every blocking wait of the sender thread polls alongside its
/// socket, so `Sender.stop()` interrupts a connect, a read, a write or a backoff
/// pause at once instead of after its timeout.
public final class StopSignal: @unchecked Sendable {
  let fd: Int32
  private let raised = Atomic<Bool>(false)

  /// Returns nil when the kernel has no eventfd to give (fd limit reached).
  public init?() {
    let fd = tt_eventfd()
    guard fd >= 0 else { return nil }
    self.fd = fd
  }

  deinit { close(fd) }

  /// Wakes every current and future wait on this signal.
  public func raise() {
    raised.store(true, ordering: .releasing)
    _ = tt_eventfd_signal(fd)
  }

  /// Whether `raise()` was called: one atomic load, for loops that check often.
  public var wasRaised: Bool { raised.load(ordering: .acquiring) }

  /// Whether `raise()` was called (does not consume the signal).
  public var isRaised: Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, 0) > 0
  }

  /// Waits up to `milliseconds`; returns true when stopped meanwhile.
  public func sleep(milliseconds: Int64) -> Bool {
    let deadline = Deadline(afterMilliseconds: milliseconds)
    while true {
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let r = poll(&p, 1, deadline.remainingPollTimeout)
      if r > 0 { return true }
      if r == 0 && deadline.hasPassed { return false }
    }
  }
}

/// A point on the monotonic clock.
struct Deadline: Sendable {
  let nanoseconds: UInt64

  init(afterMilliseconds ms: Int64) {
    nanoseconds = Deadline.now() &+ UInt64(max(0, ms)) &* 1_000_000
  }

  static func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
  }

  var hasPassed: Bool { Deadline.now() >= nanoseconds }

  /// Milliseconds left, rounded up, as poll(2) wants them (0 once passed).
  var remainingPollTimeout: Int32 {
    let now = Deadline.now()
    guard nanoseconds > now else { return 0 }
    return Int32(clamping: (nanoseconds - now + 999_999) / 1_000_000)
  }
}
