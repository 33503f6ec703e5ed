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
/// hook context, and the sender thread. `ts_plugin_startup` makes one,
/// `ts_plugin_cleanup` ends it; startup may run again in the same process.
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
  private let sink: UnsafeMutablePointer<ts_event_sink>
  private var sender: (any EventSender)?
  private var cleanedUp = false

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
    guard api.pointee.struct_size >= UInt32(MemoryLayout<ts_server_api>.size) else {
      log.error("startup refused: ts_server_api.struct_size \(api.pointee.struct_size) is smaller than version 1's \(MemoryLayout<ts_server_api>.size)")
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
    let serverInfo = copyServerInfo(api)
    let parameters: PluginParameters
    switch PluginParameters.validate(serverId: serverInfo.server_id, value: { readHostParameter(api, $0) }) {
    case .success(let valid): parameters = valid
    case .failure(let problems):
      for line in problems.lines { log.error(line) }
      log.error("startup refused: \(problems.lines.count) invalid parameter(s)")
      throw .configuration(problems.lines)
    }

    let journal: Journal
    do {
      journal = try Journal.open(directory: parameters.journalPath, sizeMB: parameters.journalSizeMB)
    } catch {
      log.error("startup refused: \(error)")
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

    let instance = PluginInstance(api: api, serverInfo: serverInfo, log: log, journal: journal, parameters: parameters)
    let code = api.pointee.subscribe!(api.pointee.host, instance.sink)
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
    log.info("started: server \(serverInfo.server_id), events \(parameters.events.parameterText), groups \(parameters.groups)")
    return instance
  }

  private init(
    api: UnsafePointer<ts_server_api>, serverInfo: ts_server_info, log: HostLog, journal: Journal,
    parameters: PluginParameters
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
    sink = .allocate(capacity: 1)
    sink.initialize(to: makeEventSink(context: UnsafeMutableRawPointer(hookContext)))
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
    if unsubscribe, let unsubscribeFunction = api.pointee.unsubscribe {
      let code = unsubscribeFunction(api.pointee.host, sink)
      if code != TS_OK { log.warning("unsubscribe returned \(code)") }
    }
    sender?.stop()
    sender = nil
    if let final = finalCounters?() {
      log.info("stopped: \(final.eventsJournaled) journaled, \(final.quarantined) quarantined, \(final.overflowed) overflowed")
    }
    journal.close()
    sink.deinitialize(count: 1)
    sink.deallocate()
    hookContext.deinitialize(count: 1)
    hookContext.deallocate()
    hookWords.deallocate()
  }

  /// `ts_plugin_config_set`: validates a complete parameter set (unset names take
  /// their defaults) and applies it, or logs every problem and keeps the old one.
  /// `Journal.*` changes apply at the next startup.
  public func applyConfiguration(_ values: [String: String]) -> ts_result {
    let validated = PluginParameters.validate(serverId: serverInfo.server_id) { values[$0] }
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
