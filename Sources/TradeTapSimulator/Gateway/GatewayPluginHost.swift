import Foundation
import TradeServerAPI

/// Loads plugins through the gateway ABI only (`dlopen`, `ts_gateway_about`,
/// `ts_gateway_startup`, `ts_gateway_cleanup`), gives each its own
/// `ts_gateway_api` table, keeps the `ts_gateway_sink`s they subscribe and fires
/// them. A plugin that fails to load or start is unloaded with its reason in the
/// journal; the gateway runs on without it.
public final class GatewayPluginHost: @unchecked Sendable {
  public let journal: HostJournal
  let info: UnsafeMutablePointer<ts_gateway_info>
  let parameters: [String: String]
  let utcOffsetMinutes: Int32
  /// The store `executions_enum` reads.
  let store: ExecutionStore
  private let lock = NSLock()
  private var slots: [GatewaySlot] = []
  private var retired: [GatewaySlot] = []
  private var subscriptions: [(owner: ObjectIdentifier, sink: ts_gateway_sink)] = []
  private var sinks: [ts_gateway_sink] = []

  public init(gatewayID: UInt32, utcOffsetMinutes: Int32, parameters: [String: String], store: ExecutionStore,
              journal: HostJournal) {
    self.journal = journal
    self.parameters = parameters
    self.utcOffsetMinutes = utcOffsetMinutes
    self.store = store
    info = .allocate(capacity: 1)
    var record = ts_gateway_info()
    record.struct_size = UInt32(MemoryLayout<ts_gateway_info>.size)
    record.gateway_id = gatewayID
    record.utc_offset_minutes = utcOffsetMinutes
    copyText("TradeTap Simulated Gateway #\(gatewayID)", into: &record.name)
    copyText("1", into: &record.build)
    info.initialize(to: record)
  }

  deinit { info.deallocate() }

  public var loadedPlugins: [String] { lock.withLock { slots.map(\.name) } }

  /// Gateway broker time now in milliseconds.
  public func brokerTimeMsc() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000 + Int64(utcOffsetMinutes) * 60_000
  }

  /// Loads and starts one plugin through the gateway exports.
  @discardableResult
  public func load(path: String) -> Bool {
    let source = (path as NSString).lastPathComponent
    guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
      journal.write(source: source, level: 3, "plugin not loaded: \(dlerror().map { String(cString: $0) } ?? "unknown error")")
      return false
    }
    typealias About = @convention(c) (UnsafeMutablePointer<ts_plugin_info>?) -> ts_result
    typealias Startup = @convention(c) (UnsafePointer<ts_gateway_api>?, UnsafeMutablePointer<OpaquePointer?>?) -> ts_result
    typealias Cleanup = @convention(c) (OpaquePointer?) -> Void
    func symbol<T>(_ name: String, as type: T.Type) -> T? { dlsym(handle, name).map { unsafeBitCast($0, to: type) } }
    guard let about = symbol("ts_gateway_about", as: About.self),
      let startup = symbol("ts_gateway_startup", as: Startup.self),
      let cleanup = symbol("ts_gateway_cleanup", as: Cleanup.self)
    else {
      journal.write(source: source, level: 3, "plugin unloaded: ts_gateway_about, ts_gateway_startup or ts_gateway_cleanup not exported")
      dlclose(handle)
      return false
    }
    var pluginInfo = ts_plugin_info()
    pluginInfo.struct_size = UInt32(MemoryLayout<ts_plugin_info>.size)
    let aboutResult = about(&pluginInfo)
    let name = text(of: pluginInfo.name).isEmpty ? source : text(of: pluginInfo.name)
    guard aboutResult == TS_OK, pluginInfo.api_version == UInt32(TS_API_VERSION) else {
      journal.write(source: name, level: 3, "plugin unloaded: ts_gateway_about returned \(aboutResult), API version \(pluginInfo.api_version)")
      dlclose(handle)
      return false
    }
    journal.write(source: name, level: 1, "\(name) \(text(of: pluginInfo.version)) loaded from \(path) as a gateway plugin")
    let slot = GatewaySlot(name: name, handle: handle, cleanup: cleanup, host: self)
    var instance: OpaquePointer?
    let result = startup(slot.api, &instance)
    guard result == TS_OK else {
      journal.write(source: name, level: 3, "plugin unloaded: ts_gateway_startup failed with \(result)")
      lock.withLock {
        subscriptions.removeAll { $0.owner == ObjectIdentifier(slot) }
        sinks = subscriptions.map(\.sink)
        retired.append(slot)
      }
      dlclose(handle)
      return false
    }
    slot.instance = instance
    lock.withLock { slots.append(slot) }
    journal.write(source: name, level: 1, "gateway plugin started")
    return true
  }

  /// Cleanup (reverse load order, no member is called any more), then `dlclose`.
  public func unloadAll() {
    let stopping = lock.withLock { () -> [GatewaySlot] in
      defer { slots.removeAll() }
      return slots
    }
    for slot in stopping.reversed() {
      slot.cleanup(slot.instance)
      lock.withLock {
        subscriptions.removeAll { $0.owner == ObjectIdentifier(slot) }
        sinks = subscriptions.map(\.sink)
      }
      dlclose(slot.handle)
      journal.write(source: slot.name, level: 1, "gateway plugin stopped and unloaded")
    }
  }

  func subscribe(owner: GatewaySlot, sink: UnsafePointer<ts_gateway_sink>) -> ts_result {
    let declared = Int(sink.pointee.struct_size)
    guard declared >= MemoryLayout<UInt32>.size + MemoryLayout<UnsafeRawPointer>.size * 2 else { return TS_ERR_INVALID_ARGUMENT }
    var copy = ts_gateway_sink()
    withUnsafeMutableBytes(of: &copy) { target in
      target.copyMemory(from: UnsafeRawBufferPointer(start: sink, count: min(declared, target.count)))
    }
    copy.struct_size = UInt32(MemoryLayout<ts_gateway_sink>.size)
    lock.withLock {
      subscriptions.append((ObjectIdentifier(owner), copy))
      sinks = subscriptions.map(\.sink)
    }
    return TS_OK
  }

  func unsubscribe(owner: GatewaySlot, sink: UnsafePointer<ts_gateway_sink>) -> ts_result {
    let context = sink.pointee.context
    return lock.withLock {
      let before = subscriptions.count
      subscriptions.removeAll { $0.owner == ObjectIdentifier(owner) && $0.sink.context == context }
      sinks = subscriptions.map(\.sink)
      return subscriptions.count < before ? TS_OK : TS_ERR_NOT_FOUND
    }
  }

  private var activeSinks: [ts_gateway_sink] { lock.withLock { sinks } }

  // MARK: Firing (host threads; records live on the caller's stack for the call)

  func fireDealerLock(_ request: ts_request) {
    var record = request
    for sink in activeSinks { sink.on_dealer_lock?(sink.context, &record) }
  }

  func fireDealerAnswer(_ confirm: ts_confirm) {
    var record = confirm
    for sink in activeSinks { sink.on_dealer_answer?(sink.context, &record) }
  }

  func fireExecution(_ execution: ts_execution) {
    var record = execution
    for sink in activeSinks { sink.on_execution?(sink.context, &record) }
  }

  func fireExecutionAck(server: UInt32, through id: UInt64) {
    for sink in activeSinks { sink.on_execution_ack?(sink.context, server, id) }
  }
}

/// One loaded gateway plugin and its own `ts_gateway_api`.
final class GatewaySlot: @unchecked Sendable {
  let name: String
  let handle: UnsafeMutableRawPointer
  let cleanup: @convention(c) (OpaquePointer?) -> Void
  unowned let host: GatewayPluginHost
  let api: UnsafeMutablePointer<ts_gateway_api>
  var instance: OpaquePointer?

  init(name: String, handle: UnsafeMutableRawPointer, cleanup: @escaping @convention(c) (OpaquePointer?) -> Void,
       host: GatewayPluginHost) {
    self.name = name
    self.handle = handle
    self.cleanup = cleanup
    self.host = host
    api = .allocate(capacity: 1)
    var table = ts_gateway_api()
    table.struct_size = UInt32(MemoryLayout<ts_gateway_api>.size)
    table.api_version = UInt32(TS_API_VERSION)
    table.info = UnsafePointer(host.info)
    table.log = { host, level, message in
      guard let slot = GatewaySlot.from(host) else { return }
      slot.host.journal.write(source: slot.name, level: level, message.map { String(cString: $0) } ?? "(null)")
    }
    table.time_msc = { host in GatewaySlot.from(host)?.host.brokerTimeMsc() ?? 0 }
    table.param_get = { host, name, value, size in
      guard let slot = GatewaySlot.from(host), let name, let value, size > 0 else { return TS_ERR_INVALID_ARGUMENT }
      guard let found = slot.host.parameters[String(cString: name)] else { return TS_ERR_NOT_FOUND }
      let bytes = Array(found.utf8)
      guard bytes.count < Int(size) else { return TS_ERR_INVALID_ARGUMENT }
      for (i, byte) in bytes.enumerated() { value[i] = CChar(bitPattern: byte) }
      value[bytes.count] = 0
      return TS_OK
    }
    table.subscribe = { host, sink in
      guard let slot = GatewaySlot.from(host), let sink else { return TS_ERR_INVALID_ARGUMENT }
      return slot.host.subscribe(owner: slot, sink: sink)
    }
    table.unsubscribe = { host, sink in
      guard let slot = GatewaySlot.from(host), let sink else { return TS_ERR_INVALID_ARGUMENT }
      return slot.host.unsubscribe(owner: slot, sink: sink)
    }
    table.executions_enum = { host, after, visit, ctx in
      guard let slot = GatewaySlot.from(host), let visit else { return TS_ERR_INVALID_ARGUMENT }
      for record in slot.host.store.after(after) {
        var copy = record
        if visit(ctx, &copy) != 0 { break }
      }
      return TS_OK
    }
    api.initialize(to: table)
    api.pointee.host = Unmanaged.passUnretained(self).toOpaque()
  }

  deinit { api.deallocate() }

  static func from(_ host: UnsafeMutableRawPointer?) -> GatewaySlot? {
    host.map { Unmanaged<GatewaySlot>.fromOpaque($0).takeUnretainedValue() }
  }
}
