/// Why a connection attempt or session ended. Every one is logged and retried;
/// none crosses the C ABI.
public enum SenderError: Error, Sendable, Equatable, CustomStringConvertible {
  /// `Sender.stop()` was called; not a failure.
  case stopped
  case resolve(host: String, reason: String)
  case connect(endpoint: String, reason: String)
  case timedOut(String)
  case closedByPeer
  case io(operation: String, errno: Int32)
  case tls(String)
  case secretFile(path: String, reason: String)
  case protocolViolation(String)
  /// The collector answered with an error frame.
  case rejected(String)
  /// No frame from the collector for three heartbeat intervals.
  case peerSilent(milliseconds: Int64)
  /// `ts_plugin_config_set` changed the collectors, TLS or the secret: reconnect.
  case reconfigured

  public var description: String {
    switch self {
    case .stopped: return "stopped"
    case .resolve(let host, let reason): return "cannot resolve \(host): \(reason)"
    case .connect(let endpoint, let reason): return "cannot connect to \(endpoint): \(reason)"
    case .timedOut(let what): return "timed out: \(what)"
    case .closedByPeer: return "connection closed by the collector"
    case .io(let operation, let code): return "\(operation) failed: \(errnoText(code))"
    case .tls(let reason): return "TLS: \(reason)"
    case .secretFile(let path, let reason): return "secret file \(path): \(reason)"
    case .protocolViolation(let reason): return "protocol violation: \(reason)"
    case .rejected(let reason): return "collector refused: \(reason)"
    case .peerSilent(let ms): return "collector silent for \(ms) ms (three heartbeat intervals): presumed dead"
    case .reconfigured: return "parameters changed: reconnecting"
    }
  }
}
