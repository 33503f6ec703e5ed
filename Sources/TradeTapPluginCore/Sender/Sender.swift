import CTradeTapTLS
import Glibc
import Synchronization
import TradeServerAPI
import TradeTapEvents
import TradeTapJournal
import TradeTapWire

/// The plugin's sender: one plugin-owned thread that reads the journal in order and
/// delivers it to the collector (see docs/sender.md).
///
/// ```
/// journal ─nextRecord─▶ Normaliser + Groups ─▶ EventBatchBuilder ─▶ TLS 1.3 ─▶ collector
///    ▲                                                                          │
///    └──────────── release(through:) ◀── cumulative ack (after ledger commit) ◀─┘
/// ```
/// Lifecycle: ``start(_:)`` spawns the thread (the plugin instance calls it through
/// ``SenderRegistry``); ``stop()`` wakes it and joins it, so no sender thread outlives
/// `ts_plugin_cleanup`. Nothing here traps: every failure is logged through the
/// host's `log` and retried with backoff, failing over through `Collector`.
public final class Sender: EventSender, @unchecked Sendable {
  private let environment: SenderEnvironment
  private let stopSignal: StopSignal
  /// Parameters changed by `config_set`, picked up by the thread between batches.
  private let pendingParameters = Mutex<PluginParameters?>(nil)
  private let parametersChangedFlag = Atomic<Bool>(false)
  private let stopped = Atomic<Bool>(false)
  private var thread: pthread_t?
  /// Runs the collector's commands on a thread of its own (nil: no eventfd to give).
  private let commands: CommandRunner?

  /// Makes the plugin instance start a `Sender` after it subscribes (installs the
  /// factory in ``SenderRegistry``). Called by `ts_plugin_startup` before the instance starts.
  public static func install() {
    SenderRegistry.factory = { environment in try Sender.start(environment) }
  }

  /// Checks what can be checked before any connection (the secret file's mode, the
  /// CA file, the collector list), then starts the sender thread.
  /// - Throws: `SenderError` with the reason; the plugin logs it and fails startup.
  public static func start(_ environment: SenderEnvironment) throws(SenderError) -> Sender {
    let parameters = environment.parameters
    guard !parameters.collectors.isEmpty else { throw .connect(endpoint: "-", reason: "no Collector configured") }
    _ = try SecretFile.read(path: parameters.secretFile)
    if parameters.tlsEnabled { _ = try TLSClientContext(caFile: parameters.tlsCAFile) }
    guard let stop = StopSignal() else { throw .io(operation: "eventfd", errno: errno) }
    let sender = Sender(environment: environment, stopSignal: stop)
    try sender.spawn()
    return sender
  }

  private init(environment: SenderEnvironment, stopSignal: StopSignal) {
    self.environment = environment
    self.stopSignal = stopSignal
    let journal = environment.journal
    commands = CommandRunner(
      api: environment.api, platform: environment.serverInfo.platform, hostLog: environment.log,
      logPath: environment.parameters.journalPath + ".commands", wakeSender: { journal.wakeConsumer() })
  }

  /// Stops the thread and returns once it has exited (idempotent). Interrupts any
  /// connect, read, write, backoff pause or journal park at once.
  public func stop() {
    guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
    stopSignal.raise()
    environment.journal.wakeConsumer()
    if let thread { pthread_join(thread, nil) }
    thread = nil
    commands?.stop()
  }

  /// New parameters from `ts_plugin_config_set` (host config thread). Groups and
  /// `Sender.Idle` apply in place; collectors, TLS or the secret reconnect.
  public func parametersChanged(_ parameters: PluginParameters) {
    pendingParameters.withLock { $0 = parameters }
    parametersChangedFlag.store(true, ordering: .releasing)
    environment.journal.wakeConsumer()
  }

  // MARK: The thread

  private func spawn() throws(SenderError) {
    switch PluginThread.start(name: "tradetap-sender", { self.run() }) {
    case .success(let handle): thread = handle
    case .failure(let error): throw .io(operation: "pthread_create", errno: error.errno)
    }
  }

  private func takeChangedParameters() -> PluginParameters? {
    guard parametersChangedFlag.exchange(false, ordering: .acquiringAndReleasing) else { return nil }
    return pendingParameters.withLock { value in
      defer { value = nil }
      return value
    }
  }

  /// The reconnect loop: dial, deliver, back off, fail over; until stop.
  private func run() {
    let log = environment.log
    var parameters = environment.parameters
    var source = JournalEventSource(environment: environment, groups: parameters.groups)
    var plan = FailoverPlan(endpoints: parameters.collectors)!
    var random = KernelRandom()
    log.info("sender started: collectors \(parameters.collectors.map(\.description).joined(separator: ",")), TLS \(parameters.tlsEnabled ? "1.3" : "off"), idle \(parameters.senderIdle.parameterText)")
    while !stopSignal.wasRaised {
      var welcomed = false
      do {
        try deliver(to: plan.current, parameters: &parameters, source: &source, welcomed: &welcomed) {
          plan.sessionEstablished()
        }
      } catch .stopped {
        break
      } catch .reconfigured {
        log.info("parameters changed: reconnecting")
        plan = FailoverPlan(endpoints: parameters.collectors) ?? plan
        continue
      } catch {
        log.warning("collector \(plan.current): \(error)")
      }
      let delay = welcomed ? plan.sessionEnded(using: &random) : plan.connectionFailed(using: &random)
      if delay > 0 { log.info("next attempt: \(plan.current) in \(delay) ms") }
      if stopSignal.sleep(milliseconds: delay) { break }
    }
    log.info("sender stopped; journal delivered through sequence \(environment.journal.releasedSequence)")
  }

  /// One connection: open, authenticate, resume, stream.
  private func deliver(
    to endpoint: CollectorEndpoint, parameters: inout PluginParameters, source: inout JournalEventSource,
    welcomed: inout Bool, onWelcome: () -> Void
  ) throws(SenderError) {
    if let changed = takeChangedParameters() {
      parameters = changed
      source.replaceGroups(changed.groups)
    }
    let secret = try SecretFile.read(path: parameters.secretFile)
    let tls = parameters.tlsEnabled ? try TLSClientContext(caFile: parameters.tlsCAFile) : nil
    let stream = try CollectorStream.open(
      to: endpoint, tls: tls, serverName: parameters.tlsServerName, timeoutMilliseconds: 5_000, stop: stopSignal)
    var session = CollectorSession(
      stream: stream, journal: environment.journal, log: environment.log,
      serverId: environment.serverInfo.server_id, identity: ServerIdentity(host: environment.serverInfo),
      heartbeatSeconds: parameters.heartbeatSeconds, stop: stopSignal)
    session.commands = commands
    session.commandsEnabled = parameters.commandsEnabled
    session.idle = parameters.senderIdle
    let welcome = try session.handshake(secret: secret)
    welcomed = true
    onWelcome()
    let connected = "connected to collector \(endpoint) (\(tls == nil ? "plaintext" : "TLS 1.3")); it holds through sequence \(welcome.lastDurableSequence)"
    if tls == nil {
      environment.log.warning(connected + ": TLS is off, events and the handshake travel unencrypted")
    } else {
      environment.log.info(connected)
    }
    try session.stream(events: &source) { source, idle in
      guard let changed = takeChangedParameters() else { return false }
      let reconnect = changed.collectors != parameters.collectors || changed.tlsEnabled != parameters.tlsEnabled
        || changed.tlsCAFile != parameters.tlsCAFile || changed.tlsServerName != parameters.tlsServerName
        || changed.secretFile != parameters.secretFile || changed.heartbeatSeconds != parameters.heartbeatSeconds
        || changed.commandsEnabled != parameters.commandsEnabled
      source.replaceGroups(changed.groups)
      idle = changed.senderIdle
      parameters = changed
      return reconnect
    }
  }
}
