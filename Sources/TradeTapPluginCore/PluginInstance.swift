import CTradeTapShims
import Glibc
import Synchronization
import TradeServerAPI
import TradeTapJournal

/// Why startup refused to run; every case was already logged through the host.
public enum PluginStartupError: Error, Sendable, Equatable {
  case version(UInt32)
  case invalidArgument(String)
  case configuration([String])
  case journal(String)
  case subscription(ts_result)
  case sender(String)
  case outOfMemory

  /// The `ts_result` the C ABI returns for this error.
  public var result: ts_result {
    switch self {
    case .version: TS_ERR_VERSION
    case .invalidArgument: TS_ERR_INVALID_ARGUMENT
    case .configuration: TS_ERR_CONFIG
    case .journal: TS_ERR_IO
    case .subscription(let code): code == TS_OK ? TS_ERR_INTERNAL : code
    case .sender: TS_ERR_CONFIG
    case .outOfMemory: TS_ERR_NO_MEMORY
    }
  }
}

/// One started plugin: parameters, the open journal, the subscribed sink and its
/// hook context, and the sender thread. `ts_plugin_startup` (a trade server) or
/// `ts_gateway_startup` (a gateway) makes one, the matching cleanup ends it; startup
/// may run again in the same process, and a server instance and a gateway instance
/// may run side by side, each with its own journal and sender.
public final class PluginInstance: @unchecked Sendable {
  /// The host's table; valid until ``cleanup()`` returns.
  public let api: UnsafePointer<ts_server_api>
  public let serverInfo: ts_server_info
  public let log: HostLog
  public let journal: Journal
  /// Counters for `/metrics`.
  public let counters: PluginCounterWords

  private let parametersLock: Mutex<PluginParameters>
  private let hookContext: UnsafeMutablePointer<HookContext>
  private let hookWords: UnsafeMutableRawPointer
  private let subscription: Subscription
  private var sender: (any EventSender)?
  private var cleanedUp = false

  /// Which sink the host calls: the server's, or the gateway's (whose host is seen
  /// through a ``GatewayHostTable`` everywhere else).
  private enum Subscription {
    case server(UnsafeMutablePointer<ts_event_sink>)
    case gateway(UnsafePointer<ts_gateway_api>, UnsafeMutablePointer<ts_gateway_sink>, GatewayHostTable)
  }

  /// Whether the host is a gateway (`ts_gateway_startup`).
  public var isGateway: Bool {
    if case .gateway = subscription { return true }
    return false
  }

  /// The parameters in force.
  public var parameters: PluginParameters { parametersLock.withLock { $0 } }

  /// The host's `ts_server_info`, copied field by field within its struct_size.
  static func copyServerInfo(_ api: UnsafePointer<ts_server_api>) -> ts_server_info {
    var info = ts_server_info()
    guard let source = api.pointee.info else { return info }
    let declared = Int(UnsafeRawPointer(source).loadUnaligned(as: UInt32.self))
    let copied = min(max(declared, 0), MemoryLayout<ts_server_info>.size)
    withUnsafeMutableBytes(of: &info) { $0.baseAddress!.copyMemory(from: source, byteCount: copied) }
    return info
  }

  /// Starts the plugin: checks the version, reads and validates the parameters,
  /// opens and recovers the journal, subscribes the sink, starts the sender.
  /// Everything that fails is logged before it is thrown.
  public static func startup(api: UnsafePointer<ts_server_api>) throws(PluginStartupError) -> PluginInstance {
    let log = HostLog(api: api)
    // A first-round host's table ends at `trades_enum`: accepted; it offers no commands.
    let firstRoundSize = MemoryLayout<ts_server_api>.offset(of: \ts_server_api.user_create) ?? MemoryLayout<ts_server_api>.size
    guard api.pointee.struct_size >= UInt32(firstRoundSize) else {
      log.error("startup refused: ts_server_api.struct_size \(api.pointee.struct_size) is smaller than version 1's \(firstRoundSize)")
      throw .invalidArgument("ts_server_api too small")
    }
    guard api.pointee.api_version == UInt32(TS_API_VERSION) else {
      log.error("startup refused: host API version \(api.pointee.api_version), plugin built for \(TS_API_VERSION)")
      throw .version(api.pointee.api_version)
    }
    guard hookRecordSizesMatchHeader() else {
      log.error("startup refused: record sizes differ from the hooks' (a build error)")
      throw .invalidArgument("record sizes")
    }
    guard api.pointee.subscribe != nil, api.pointee.unsubscribe != nil else {
      log.error("startup refused: the host offers no subscribe/unsubscribe")
      throw .invalidArgument("subscribe")
    }
    return try open(api: api, serverInfo: copyServerInfo(api), log: log, gateway: nil)
  }

  /// Starts a gateway instance (`ts_gateway_startup`): the same checks, then the same
  /// journal and sender as a server instance, seen through a ``GatewayHostTable``;
  /// the gateway id is the source id, and `Journal.Path` defaults to
  /// `tradetap-journal-gw-<gateway_id>`.
  public static func startupGateway(api gateway: UnsafePointer<ts_gateway_api>) throws(PluginStartupError) -> PluginInstance {
    let table = GatewayHostTable(gateway)
    let api = UnsafePointer(table.api)
    let log = HostLog(api: api)
    func refuse(_ line: String, _ error: PluginStartupError) -> PluginStartupError {
      log.error("startup refused: " + line)
      table.free()
      return error
    }
    guard gateway.pointee.struct_size >= UInt32(MemoryLayout<ts_gateway_api>.size) else {
      throw refuse("ts_gateway_api.struct_size \(gateway.pointee.struct_size) is smaller than version 1's \(MemoryLayout<ts_gateway_api>.size)",
                   .invalidArgument("ts_gateway_api too small"))
    }
    guard gateway.pointee.api_version == UInt32(TS_API_VERSION) else {
      throw refuse("host API version \(gateway.pointee.api_version), plugin built for \(TS_API_VERSION)",
                   .version(gateway.pointee.api_version))
    }
    guard gatewayHookRecordSizesMatchHeader() else {
      throw refuse("gateway record sizes differ from the hooks' (a build error)", .invalidArgument("record sizes"))
    }
    guard gateway.pointee.subscribe != nil, gateway.pointee.unsubscribe != nil else {
      throw refuse("the gateway offers no subscribe/unsubscribe", .invalidArgument("subscribe"))
    }
    // From here `open` owns the table: it frees it on failure (through the instance's
    // release once the instance exists).
    return try open(api: api, serverInfo: table.info.pointee, log: log, gateway: (gateway, table))
  }

  static func validateParameters(
    id: UInt32, gateway: Bool, value: (String) -> String?
  ) -> Result<PluginParameters, ParameterProblems> {
    gateway ? PluginParameters.validate(gatewayId: id, value: value) : PluginParameters.validate(serverId: id, value: value)
  }

  /// What both startups share once the host's table is checked: parameters, journal,
  /// subscription, sender. Everything that fails is logged before it is thrown.
  private static func open(
    api: UnsafePointer<ts_server_api>, serverInfo: ts_server_info, log: HostLog,
    gateway: (UnsafePointer<ts_gateway_api>, GatewayHostTable)?
  ) throws(PluginStartupError) -> PluginInstance {
    let parameters: PluginParameters
    let value: (String) -> String? = { readHostParameter(api, $0) }
    switch validateParameters(id: serverInfo.server_id, gateway: gateway != nil, value: value) {
    case .success(let valid): parameters = valid
    case .failure(let problems):
      for line in problems.lines { log.error(line) }
      log.error("startup refused: \(problems.lines.count) invalid parameter(s)")
      gateway?.1.free()
      throw .configuration(problems.lines)
    }

    let journal: Journal
    do {
      journal = try Journal.open(directory: parameters.journalPath, sizeMB: parameters.journalSizeMB)
    } catch {
      log.error("startup refused: \(error)")
      gateway?.1.free()
      throw .journal(error.description)
    }
    let recovery = journal.recovery
    if let replaced = recovery.replaced {
      log.error("journal \(journal.path) was damaged (\(replaced.reason)): moved aside to \(replaced.movedTo), started a fresh journal; the events it held are reported as a gap at the first connection and reconciliation heals them")
    }
    log.info("journal \(journal.path): \(recovery.pendingRecords) record(s) to deliver from sequence \(recovery.resumeSequence), capacity \(journal.statistics.capacity)")
    if !recovery.uncommittedSequences.isEmpty {
      log.warning("journal: \(recovery.uncommittedSequences.count) record(s) claimed but never committed (the host stopped mid-hook), reported as gaps: sequences \(recovery.uncommittedSequences.prefix(8).map(String.init).joined(separator: ","))\(recovery.uncommittedSequences.count > 8 ? ",..." : "")")
    }
    if journal.statistics.capacity != JournalLayout.slotCount(sizeMB: parameters.journalSizeMB) {
      log.warning("journal: keeps its existing size (\(journal.statistics.capacity) records) until it is empty; Journal.SizeMB \(parameters.journalSizeMB) applies then")
    }

    let instance = PluginInstance(
      api: api, serverInfo: serverInfo, log: log, journal: journal, parameters: parameters, gateway: gateway)
    let code: ts_result
    switch instance.subscription {
    case .server(let sink): code = api.pointee.subscribe!(api.pointee.host, sink)
    case .gateway(let table, let sink, _): code = table.pointee.subscribe!(table.pointee.host, sink)
    }
    guard code == TS_OK else {
      log.error("startup refused: subscribe failed with \(code)")
      instance.release(unsubscribe: false)
      throw .subscription(code)
    }
    if let factory = SenderRegistry.factory {
      do {
        instance.sender = try factory(instance.senderEnvironment(parameters))
      } catch {
        log.error("startup refused: sender: \(error)")
        instance.release(unsubscribe: true)
        throw .sender("\(error)")
      }
    } else {
      log.warning("no sender in this build: events are journaled, not forwarded")
    }
    log.info("started: \(gateway == nil ? "server" : "gateway") \(serverInfo.server_id), events \(parameters.events.parameterText), groups \(parameters.groups)")
    return instance
  }

  private init(
    api: UnsafePointer<ts_server_api>, serverInfo: ts_server_info, log: HostLog, journal: Journal,
    parameters: PluginParameters, gateway: (UnsafePointer<ts_gateway_api>, GatewayHostTable)?
  ) {
    self.api = api
    self.serverInfo = serverInfo
    self.log = log
    self.journal = journal
    self.parametersLock = Mutex(parameters)
    let words = UnsafeMutableRawPointer.allocate(byteCount: HookWord.blockSize, alignment: 64)
    words.initializeMemory(as: UInt8.self, repeating: 0, count: HookWord.blockSize)
    tt_store_release_u32(words + HookWord.eventSelection, parameters.events.rawValue)
    self.hookWords = words
    hookContext = .allocate(capacity: 1)
    hookContext.initialize(to: HookContext(producer: journal.producer, words: words))
    if let (table, hostTable) = gateway {
      let sink = UnsafeMutablePointer<ts_gateway_sink>.allocate(capacity: 1)
      sink.initialize(to: makeGatewaySink(context: UnsafeMutableRawPointer(hookContext)))
      subscription = .gateway(table, sink, hostTable)
    } else {
      let sink = UnsafeMutablePointer<ts_event_sink>.allocate(capacity: 1)
      sink.initialize(to: makeEventSink(context: UnsafeMutableRawPointer(hookContext)))
      subscription = .server(sink)
    }
    counters = PluginCounterWords(words: words, journal: journal)
  }

  func senderEnvironment(_ parameters: PluginParameters) -> SenderEnvironment {
    SenderEnvironment(
      api: api, serverInfo: serverInfo, journal: journal, parameters: parameters, counters: counters, log: log)
  }

  /// Unsubscribes (the host guarantees no hook runs once it returns), stops the
  /// sender, closes the journal and frees the hook context. Idempotent.
  public func cleanup() {
    guard !cleanedUp else { return }
    release(unsubscribe: true, finalCounters: { self.counters.snapshot })
  }

  private func release(unsubscribe: Bool, finalCounters: (() -> PluginCounters)? = nil) {
    cleanedUp = true
    if unsubscribe {
      var code = TS_OK
      switch subscription {
      case .server(let sink):
        if let unsubscribeFunction = api.pointee.unsubscribe { code = unsubscribeFunction(api.pointee.host, sink) }
      case .gateway(let table, let sink, _):
        if let unsubscribeFunction = table.pointee.unsubscribe { code = unsubscribeFunction(table.pointee.host, sink) }
      }
      if code != TS_OK { log.warning("unsubscribe returned \(code)") }
    }
    sender?.stop()
    sender = nil
    if let final = finalCounters?() {
      log.info("stopped: \(final.eventsJournaled) journaled, \(final.quarantined) quarantined, \(final.overflowed) overflowed")
    }
    journal.close()
    hookContext.deinitialize(count: 1)
    hookContext.deallocate()
    hookWords.deallocate()
    switch subscription {
    case .server(let sink):
      sink.deinitialize(count: 1)
      sink.deallocate()
    case .gateway(_, let sink, let hostTable):
      sink.deinitialize(count: 1)
      sink.deallocate()
      hostTable.free()  // last: the log and the sender used it until here
    }
  }

  /// `ts_plugin_config_set`: validates a complete parameter set (unset names take
  /// their defaults) and applies it, or logs every problem and keeps the old one.
  /// `Journal.*` changes apply at the next startup.
  public func applyConfiguration(_ values: [String: String]) -> ts_result {
    let validated = Self.validateParameters(id: serverInfo.server_id, gateway: isGateway) { values[$0] }
    switch validated {
    case .failure(let problems):
      for line in problems.lines { log.error(line) }
      log.error("configuration refused: the previous parameters stay in force")
      return TS_ERR_CONFIG
    case .success(let new):
      let old = parametersLock.withLock { current in
        let old = current
        current = new
        return old
      }
      tt_store_release_u32(hookWords + HookWord.eventSelection, new.events.rawValue)
      if new.journalPath != old.journalPath || new.journalSizeMB != old.journalSizeMB {
        log.warning("Journal.Path / Journal.SizeMB changes take effect at the next startup")
      }
      sender?.parametersChanged(new)
      log.info("configuration applied: events \(new.events.parameterText), groups \(new.groups)")
      return TS_OK
    }
  }
}

/// Reads one parameter through `param_get`; nil when unset or unreadable.
func readHostParameter(_ api: UnsafePointer<ts_server_api>, _ name: String) -> String? {
  guard let paramGet = api.pointee.param_get else { return nil }
  var buffer = [CChar](repeating: 0, count: 1024)
  let code = buffer.withUnsafeMutableBufferPointer { out in
    name.withCString { paramGet(api.pointee.host, $0, out.baseAddress, UInt32(out.count)) }
  }
  guard code == TS_OK else { return nil }
  buffer[buffer.count - 1] = 0
  return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
