import TradeServerAPI

/// Writes lines to the trade server's journal through `ts_server_api.log`
/// ([thread-safe] per the ABI). Every line starts with `TradeTap: `.
public struct HostLog: @unchecked Sendable {
  let api: UnsafePointer<ts_server_api>

  public init(api: UnsafePointer<ts_server_api>) {
    self.api = api
  }

  public func debug(_ message: String) { write(TS_LOG_DEBUG, message) }
  public func info(_ message: String) { write(TS_LOG_INFO, message) }
  public func warning(_ message: String) { write(TS_LOG_WARN, message) }
  public func error(_ message: String) { write(TS_LOG_ERROR, message) }

  func write(_ level: Int32, _ message: String) {
    guard let log = api.pointee.log else { return }
    ("TradeTap: " + message).withCString { log(api.pointee.host, level, $0) }
  }
}
