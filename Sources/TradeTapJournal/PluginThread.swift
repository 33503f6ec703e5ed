import CTradeTapShims
import Glibc

/// Starts a thread of the plugin's own (the sender, the journal's prefault) the one
/// way such a thread may start inside a host: every signal blocked, so the host's
/// signals go to the host's threads and a write to a dead socket gives EPIPE instead
/// of a process-killing SIGPIPE; and named, so an operator sees it in `top -H`.
public enum PluginThread {
  private final class Start {
    let name: String
    let body: () -> Void
    init(name: String, body: @escaping () -> Void) {
      self.name = name
      self.body = body
    }
  }

  /// Runs `body` on a new thread named `name` (at most 15 bytes). The caller joins it.
  /// - Returns: the thread, or the `pthread_create` error number.
  public static func start(name: String, _ body: @escaping () -> Void) -> Result<pthread_t, PluginThreadError> {
    var all = sigset_t()
    var previous = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_SETMASK, &all, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    var handle = pthread_t()
    let context = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    let result = pthread_create(&handle, nil, { context in
      let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
      _ = tt_set_thread_name(start.name)
      start.body()
      return nil
    }, context)
    guard result == 0 else {
      Unmanaged<Start>.fromOpaque(context).release()
      return .failure(PluginThreadError(errno: result))
    }
    return .success(handle)
  }
}

/// `pthread_create` failed with this error number.
public struct PluginThreadError: Error, Sendable {
  public let errno: Int32
}
