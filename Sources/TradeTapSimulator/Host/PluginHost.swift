import Foundation
import Synchronization
import TradeServerAPI

/// Loads server plugins through the C ABI only (`dlopen`, the four `ts_plugin_*`
/// exports), gives each its own `ts_server_api` table, keeps the sinks they
/// subscribe, and unloads them. A plugin that fails to load or start is unloaded
/// with its reason in the journal, as the platforms do; the server keeps running.
public final class PluginHost: @unchecked Sendable {
  public let journal: HostJournal
  public let serverInfo: UnsafeMutablePointer<ts_server_info>
  private var currentParameters: [String: String]
  /// The parameters `param_get` answers with (the last ones applied).
  public var parameters: [String: String] { lock.withLock { currentParameters } }
  let utcOffsetMinutes: Int32
  /// Set by the server before any plugin starts; the query functions read it.
  public internal(set) var shards: [ServerShard] = []
  let platform: UInt32

  private let lock = NSLock()
  private var subscriptions: [(owner: ObjectIdentifier, sink: ts_event_sink)] = []
  /// The sinks hooks are fired to; rebuilt only while no hook is firing.
  public private(set) var activeSinks: [ts_event_sink] = []
  private var slots: [PluginSlot] = []
  /// Slots of plugins that failed to start: their `ts_server_api` stays allocated
  /// (a plugin may have kept the pointer), the library is closed.
  private var retired: [PluginSlot] = []

  /// Manager-API writes (`user_create`, `balance_change`) that changed the platform.
  public let writesApplied = Atomic<Int>(0)
  /// Test knob (`TRADETAP_SIM_SLOW_WRITE_MS`): a `balance_change` whose comment holds
  /// `slow-write` returns this long after it applied, so a fault driver can kill or cut
  /// something while the call is in progress (Tools/faults/commands.sh).
  let slowWriteMicroseconds: UInt32 = {
    guard let text = ProcessInfo.processInfo.environment["TRADETAP_SIM_SLOW_WRITE_MS"], let ms = UInt32(text) else { return 0 }
    return min(ms, 60_000) * 1000
  }()

  /// Plugins that started and are running.
  public var loadedPlugins: [String] { lock.withLock { slots.map(\.name) } }

  public init(serverID: UInt32, platform: UInt32, utcOffsetMinutes: Int32, parameters: [String: String],
              journal: HostJournal) {
    self.journal = journal
    currentParameters = parameters
    self.utcOffsetMinutes = utcOffsetMinutes
    self.platform = platform
    serverInfo = .allocate(capacity: 1)
    var info = ts_server_info()
    info.struct_size = UInt32(MemoryLayout<ts_server_info>.size)
    info.server_id = serverID
    info.platform = platform
    info.utc_offset_minutes = utcOffsetMinutes
    copyText("TradeTap Simulator \(platform == 4 ? "MT4" : "MT5") #\(serverID)", into: &info.name)
    copyText("1", into: &info.build)
    serverInfo.initialize(to: info)
  }

  deinit {
    serverInfo.deallocate()
  }

  /// Broker time now in milliseconds (UTC + the server's offset).
  public func brokerTimeMsc() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000 + Int64(utcOffsetMinutes) * 60_000
  }

  // MARK: Loading

  /// Loads and starts one plugin.
  /// - Returns: true when it runs; false when it was unloaded (reason in the journal).
  @discardableResult
  public func load(path: String) -> Bool {
    let source = (path as NSString).lastPathComponent
    guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
      let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
      journal.write(source: source, level: 3, "plugin not loaded: \(reason)")
      return false
    }
    func symbol<T>(_ name: String, as type: T.Type) -> T? {
      dlsym(handle, name).map { unsafeBitCast($0, to: type) }
    }
    typealias About = @convention(c) (UnsafeMutablePointer<ts_plugin_info>?) -> ts_result
    typealias Startup = @convention(c) (UnsafePointer<ts_server_api>?, UnsafeMutablePointer<OpaquePointer?>?) -> ts_result
    typealias Cleanup = @convention(c) (OpaquePointer?) -> Void
    typealias ConfigSet = @convention(c) (OpaquePointer?, UnsafePointer<ts_param>?, UInt32) -> ts_result
    guard let about = symbol("ts_plugin_about", as: About.self),
      let startup = symbol("ts_plugin_startup", as: Startup.self),
      let cleanup = symbol("ts_plugin_cleanup", as: Cleanup.self)
    else {
      journal.write(source: source, level: 3, "plugin unloaded: ts_plugin_about, ts_plugin_startup or ts_plugin_cleanup not exported")
      dlclose(handle)
      return false
    }
    var info = ts_plugin_info()
    info.struct_size = UInt32(MemoryLayout<ts_plugin_info>.size)
    let aboutResult = about(&info)
    let name = text(of: info.name).isEmpty ? source : text(of: info.name)
    guard aboutResult == TS_OK else {
      journal.write(source: source, level: 3, "plugin unloaded: ts_plugin_about returned \(aboutResult)")
      dlclose(handle)
      return false
    }
    if info.api_version != UInt32(TS_API_VERSION) {
      journal.write(source: name, level: 3, "plugin unloaded: built for API version \(info.api_version), server has \(TS_API_VERSION)")
      dlclose(handle)
      return false
    }
    journal.write(source: name, level: 1, "\(name) \(text(of: info.version)) by \(text(of: info.vendor)) loaded from \(path)")
    let slot = PluginSlot(name: name, handle: handle, cleanup: cleanup,
                          configSet: symbol("ts_plugin_config_set", as: ConfigSet.self), host: self)
    var instance: OpaquePointer?
    let result = startup(slot.api, &instance)
    guard result == TS_OK else {
      journal.write(source: name, level: 3, "plugin unloaded: ts_plugin_startup failed with \(resultName(result)) (\(result))")
      lock.withLock {
        subscriptions.removeAll { $0.owner == ObjectIdentifier(slot) }
        rebuildActiveSinks()
        retired.append(slot)
      }
      dlclose(handle)
      return false
    }
    slot.instance = instance
    lock.withLock { slots.append(slot) }
    journal.write(source: name, level: 1, "plugin started")
    return true
  }

  /// Stops every plugin (reverse load order): `ts_plugin_cleanup` (the caller has
  /// stopped firing hooks), then `dlclose`. Call once the run has ended.
  public func unloadAll() {
    let stopping = lock.withLock { () -> [PluginSlot] in
      let all = slots
      slots.removeAll()
      return all
    }
    for slot in stopping.reversed() {
      // No hook fires any more (the run has ended); cleanup unsubscribes its sinks,
      // and whatever it left subscribed is dropped before dlclose.
      slot.cleanup(slot.instance)
      lock.withLock {
        subscriptions.removeAll { $0.owner == ObjectIdentifier(slot) }
        rebuildActiveSinks()
      }
      dlclose(slot.handle)
      journal.write(source: slot.name, level: 1, "plugin stopped and unloaded")
    }
  }

  /// The admin's "apply": replaces the parameters and hands them to every running
  /// plugin through `ts_plugin_config_set` (a plugin keeps its old ones on error).
  /// - Returns: each plugin's result, by name.
  @discardableResult
  public func applyParameters(_ parameters: [String: String]) -> [String: ts_result] {
    let running = lock.withLock { () -> [PluginSlot] in
      currentParameters = parameters
      return slots
    }
    var table = parameters.sorted { $0.key < $1.key }.map { entry -> ts_param in
      var param = ts_param()
      copyText(entry.key, into: &param.name)
      copyText(entry.value, into: &param.value)
      return param
    }
    var results: [String: ts_result] = [:]
    for slot in running {
      guard let configSet = slot.configSet else {
        journal.write(source: slot.name, level: 2, "ts_plugin_config_set not exported; parameters apply at next start")
        results[slot.name] = TS_ERR_NOT_FOUND
        continue
      }
      let result = table.withUnsafeMutableBufferPointer { configSet(slot.instance, $0.baseAddress, UInt32($0.count)) }
      journal.write(source: slot.name, level: result == TS_OK ? 1 : 3,
                    result == TS_OK ? "parameters applied" : "parameters refused: \(resultName(result)) (\(result))")
      results[slot.name] = result
    }
    return results
  }

  // MARK: Sinks

  func subscribe(owner: PluginSlot, sink: UnsafePointer<ts_event_sink>) -> ts_result {
    let declared = Int(sink.pointee.struct_size)
    guard declared >= MemoryLayout<UInt32>.size + MemoryLayout<UnsafeRawPointer>.size * 2 else {
      return TS_ERR_INVALID_ARGUMENT
    }
    // Copy only the members the plugin's struct_size covers; later ones stay NULL.
    var copy = ts_event_sink()
    withUnsafeMutableBytes(of: &copy) { target in
      target.copyMemory(from: UnsafeRawBufferPointer(start: sink, count: min(declared, target.count)))
    }
    copy.struct_size = UInt32(MemoryLayout<ts_event_sink>.size)
    lock.withLock {
      subscriptions.append((ObjectIdentifier(owner), copy))
      rebuildActiveSinks()
    }
    return TS_OK
  }

  func unsubscribe(owner: PluginSlot, sink: UnsafePointer<ts_event_sink>) -> ts_result {
    let context = sink.pointee.context
    return lock.withLock {
      let before = subscriptions.count
      subscriptions.removeAll { $0.owner == ObjectIdentifier(owner) && $0.sink.context == context }
      rebuildActiveSinks()
      return subscriptions.count < before ? TS_OK : TS_ERR_NOT_FOUND
    }
  }

  private func rebuildActiveSinks() { activeSinks = subscriptions.map(\.sink) }

  func resultName(_ result: ts_result) -> String {
    switch result {
    case TS_ERR_VERSION: "TS_ERR_VERSION"
    case TS_ERR_INVALID_ARGUMENT: "TS_ERR_INVALID_ARGUMENT"
    case TS_ERR_CONFIG: "TS_ERR_CONFIG"
    case TS_ERR_NO_MEMORY: "TS_ERR_NO_MEMORY"
    case TS_ERR_IO: "TS_ERR_IO"
    case TS_ERR_NOT_FOUND: "TS_ERR_NOT_FOUND"
    case TS_ERR_INTERNAL: "TS_ERR_INTERNAL"
    case TS_ERR_BUSY: "TS_ERR_BUSY"
    default: "unknown result"
    }
  }
}

/// One loaded plugin: its library handle, its own `ts_server_api` (so the journal
/// can name who logged), and the instance `ts_plugin_startup` returned.
final class PluginSlot: @unchecked Sendable {
  let name: String
  let handle: UnsafeMutableRawPointer
  let cleanup: @convention(c) (OpaquePointer?) -> Void
  let configSet: (@convention(c) (OpaquePointer?, UnsafePointer<ts_param>?, UInt32) -> ts_result)?
  unowned let host: PluginHost
  let api: UnsafeMutablePointer<ts_server_api>
  var instance: OpaquePointer?

  init(name: String, handle: UnsafeMutableRawPointer, cleanup: @escaping @convention(c) (OpaquePointer?) -> Void,
       configSet: (@convention(c) (OpaquePointer?, UnsafePointer<ts_param>?, UInt32) -> ts_result)?,
       host: PluginHost) {
    self.name = name
    self.handle = handle
    self.cleanup = cleanup
    self.configSet = configSet
    self.host = host
    api = .allocate(capacity: 1)
    api.initialize(to: ServerAPITable.make(host: host.serverInfo))
    api.pointee.host = Unmanaged.passUnretained(self).toOpaque()
  }

  deinit {
    api.deallocate()
  }

  static func from(_ host: UnsafeMutableRawPointer?) -> PluginSlot? {
    host.map { Unmanaged<PluginSlot>.fromOpaque($0).takeUnretainedValue() }
  }
}
