import TradeServerAPI
import TradeTapJournal

/// Everything the plugin instance hands the sender thread when it starts it.
///
/// Lifetimes: `api` and everything it points to stay valid until the sender's
/// ``EventSender/stop()`` returns (cleanup stops the sender before it returns to
/// the host); `journal` stays open until then.
public struct SenderEnvironment: @unchecked Sendable {
  /// The host's function table (log, time, query functions for reconciliation).
  public let api: UnsafePointer<ts_server_api>
  /// A copy of the host's `ts_server_info` (fields beyond its struct_size are zero).
  public let serverInfo: ts_server_info
  /// The journal to read in order (single consumer: the sender thread only) and release on acks.
  public let journal: Journal
  /// The parameters at startup; later changes arrive through ``EventSender/parametersChanged(_:)``.
  public let parameters: PluginParameters
  /// Counters the sender bumps (quarantined, filtered by group).
  public let counters: PluginCounterWords
  /// The host's log.
  public let log: HostLog
}

/// The sender thread as the plugin instance drives it. The sender (in
/// `Sender/`) conforms; the instance starts it after subscribing and stops it
/// in cleanup.
public protocol EventSender: AnyObject {
  /// Stops the thread and returns once it has exited. Wakes it if parked
  /// (``Journal/wakeConsumer()``).
  func stop()
  /// Parameters changed at run time (`ts_plugin_config_set`): collectors, TLS,
  /// groups, heartbeat. Called from the host's config thread.
  func parametersChanged(_ parameters: PluginParameters)
}

/// Makes and starts the sender for a plugin instance. Throws to fail startup; the
/// message is logged.
public typealias SenderFactory = (SenderEnvironment) throws -> any EventSender

/// Where the plugin finds its sender. Until a factory is installed, the plugin
/// only journals (and logs that it does).
public enum SenderRegistry {
  nonisolated(unsafe) public static var factory: SenderFactory?
}
