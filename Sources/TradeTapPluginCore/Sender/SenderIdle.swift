/// `Sender.Idle`: what the sender thread does once it has drained the journal, as
/// Aeron's idle strategies (docs/sender.md, "Idle strategies"). Every strategy keeps
/// the hooks free of system calls except `park` and the first hook after a
/// `backoff` quiet period, which write the journal's eventfd once.
public enum SenderIdle: Sendable, Equatable {
  /// Spins on the journal's commit word (pause), never sleeps: the lowest wake-up
  /// latency, a whole core of the host while connected. Never the default.
  case busySpin
  /// Spins with `sched_yield` between checks: gives the core to any other runnable
  /// thread, still 100 % of a core on an idle machine.
  case yield
  /// Spins briefly, then polls the journal in `pollMicroseconds` sleeps for 20 ms
  /// after the last record, then parks. The default, `backoff` = 50 µs polls.
  case backoff(pollMicroseconds: Int)
  /// Spins briefly, then parks at once: no CPU between events, but the first hook
  /// after every park writes the eventfd (a system call on a host thread).
  case park

  /// The default's poll: 50 µs.
  public static let defaultPollMicroseconds = 50
  public static let `default` = SenderIdle.backoff(pollMicroseconds: defaultPollMicroseconds)
  /// `backoff:<µs>` accepts polls in this range.
  static let pollMicrosecondsBounds = 1...1_000

  /// Parses `busy-spin`, `yield`, `backoff`, `backoff:<µs>` or `park` (case-insensitive).
  public init?(parameterText text: String) {
    let lowered = text.lowercased()
    switch lowered {
    case "busy-spin": self = .busySpin
    case "yield": self = .yield
    case "backoff": self = .default
    case "park": self = .park
    default:
      guard lowered.hasPrefix("backoff:"), let poll = Int(lowered.dropFirst("backoff:".count)),
            Self.pollMicrosecondsBounds.contains(poll) else { return nil }
      self = .backoff(pollMicroseconds: poll)
    }
  }

  public var parameterText: String {
    switch self {
    case .busySpin: "busy-spin"
    case .yield: "yield"
    case .backoff(let poll): poll == Self.defaultPollMicroseconds ? "backoff" : "backoff:\(poll)"
    case .park: "park"
    }
  }
}
