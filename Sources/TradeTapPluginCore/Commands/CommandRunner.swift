import CTradeTapTLS
import Glibc
import Synchronization
import TradeServerAPI
import TradeTapJournal
import TradeTapWire

/// Runs the collector's commands on a thread of its own (`tradetap-command`), never
/// on a hook nor on the sender's I/O path: a `balance_change` may take the host's
/// locks for as long as the host likes (docs/commands.md).
///
/// The one rule: **no command reaches the host twice.**
/// 1. A command with a recorded result is answered from the record.
/// 2. A command with a recorded intent and no result may have reached the host
///    (the process died, or the result could not be recorded): the platform's
///    records are searched for its `TT#<id>` mark. Found: done, with that deal.
///    Absent: it never ran, and runs now. The search failing: `unknown`, and the
///    collector asks again later.
/// 3. Otherwise the intent is made durable, the host is called once, and the result
///    is made durable before it is reported.
///
/// The sender hands commands in (``submit(_:)``) and takes results out
/// (``takeResults()``) between frames; the thread starts with the first command, so a
/// plugin that is never sent one (a gateway instance) has no thread and no file.
final class CommandRunner: @unchecked Sendable {
  /// Commands waiting beyond this are dropped with a warning: they stay unfinished at
  /// the collector, which sends them again after the next welcome.
  static let maxQueued = 1024

  /// A test-only fault point: with `TRADETAP_TEST_ABANDON_COMMENT=<word>` in the host's
  /// environment, a money movement whose CRM comment holds `<word>` makes the thread
  /// stop dead right after the host call, recording and reporting nothing, as a host
  /// process killed at that instant would (Tools/faults/commands.sh). Unset: nothing.
  private let abandonWord: String?

  private struct Inbox {
    var queue: [CommandMessage] = []
    var ids: Set<UInt64> = []
  }

  private let writes: HostWrites
  private let hostLog: HostLog
  private let logPath: String
  private let wakeSender: @Sendable () -> Void
  private let inbox = Mutex(Inbox())
  private let outbox = Mutex<[CommandResultMessage]>([])
  private let resultsReady = Atomic<Bool>(false)
  private let stopping = Atomic<Bool>(false)
  private let work: Int32
  /// Set by the sender thread when it starts the command thread; read by stop() after the sender joined.
  private var thread: pthread_t?
  /// The command thread's own.
  private var commandLog: CommandLog?
  private var commandLogProblem: String?

  /// - Parameters:
  ///   - logPath: the durable record, `<Journal.Path>.commands`.
  ///   - wakeSender: wakes a parked sender so a result leaves at once.
  init?(api: UnsafePointer<ts_server_api>, platform: UInt32, hostLog: HostLog, logPath: String,
        wakeSender: @escaping @Sendable () -> Void) {
    let fd = tt_eventfd()
    guard fd >= 0 else { return nil }
    work = fd
    writes = HostWrites(api: api, platform: platform)
    self.hostLog = hostLog
    self.logPath = logPath
    self.wakeSender = wakeSender
    abandonWord = getenv("TRADETAP_TEST_ABANDON_COMMENT").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
  }

  deinit { close(work) }

  /// Whether results wait for the sender: one atomic load per loop turn.
  var hasResults: Bool { resultsReady.load(ordering: .acquiring) }

  /// Queues a command (sender thread). A command already queued or running is not queued twice.
  func submit(_ command: CommandMessage) {
    let accepted: Bool = inbox.withLock { inbox in
      guard !inbox.ids.contains(command.commandId) else { return true }
      guard inbox.queue.count < Self.maxQueued else { return false }
      inbox.queue.append(command)
      inbox.ids.insert(command.commandId)
      return true
    }
    guard accepted else {
      hostLog.warning("command \(command.commandId) dropped: \(Self.maxQueued) commands already wait; the collector sends it again after the next connection")
      return
    }
    if thread == nil, !stopping.load(ordering: .acquiring) {
      switch PluginThread.start(name: "tradetap-command", { self.run() }) {
      case .success(let handle): thread = handle
      case .failure(let error):
        hostLog.error("cannot start the command thread (errno \(error.errno)): commands wait for the next connection")
        return
      }
    }
    _ = tt_eventfd_signal(work)
  }

  /// Results to send (sender thread), oldest first.
  func takeResults() -> [CommandResultMessage] {
    resultsReady.store(false, ordering: .releasing)
    return outbox.withLock { results in
      defer { results = [] }
      return results
    }
  }

  /// Stops the thread and returns once it has exited (after the sender thread
  /// joined, so nothing starts it again). A host call in progress finishes first.
  func stop() {
    stopping.store(true, ordering: .releasing)
    _ = tt_eventfd_signal(work)
    if let thread { pthread_join(thread, nil) }
    thread = nil
  }

  // MARK: The thread

  private func run() {
    while !stopping.load(ordering: .acquiring) {
      var p = pollfd(fd: work, events: Int16(POLLIN), revents: 0)
      _ = poll(&p, 1, 1_000)
      _ = tt_eventfd_drain(work)
      while !stopping.load(ordering: .acquiring) {
        guard let command = inbox.withLock({ $0.queue.isEmpty ? nil : $0.queue.removeFirst() }) else { break }
        let result = process(command)
        inbox.withLock { _ = $0.ids.remove(command.commandId) }
        guard let result else { return }  // the fault point: dead from here on
        outbox.withLock { $0.append(result) }
        resultsReady.store(true, ordering: .releasing)
        wakeSender()
      }
    }
  }

  /// Opens the record at the first command.
  private func record() -> CommandLog? {
    if commandLog == nil, commandLogProblem == nil {
      let (opened, problem) = CommandLog.open(path: logPath)
      commandLog = opened
      commandLogProblem = problem
      if let problem { hostLog.error("command record: \(problem): no command runs until it can be recorded") }
    }
    return commandLog
  }

  /// One command under the rule above. - Returns: nil only at the fault point.
  private func process(_ command: CommandMessage) -> CommandResultMessage? {
    let id = command.commandId
    guard let record = record() else {
      return CommandResultMessage(commandId: id, status: .unknown, reason: "the plugin's command record is unavailable")
    }
    if let result = record.results[id] { return message(id, result) }
    if let intent = record.intents[id] {
      switch writes.search(command, since: intent.brokerMilliseconds) {
      case .found(let made):
        let result = CommandLog.Result(
          status: .done, hostResult: 0, deal: command.isAccountOpening ? 0 : made,
          login: command.isAccountOpening ? made : command.request.login)
        hostLog.info("command \(id): ran before its result was recorded; found on the platform (\(made))")
        return finish(id, result, record: record)
      case .failed(let why):
        hostLog.warning("command \(id): may have reached the host and cannot be searched for: \(why)")
        return CommandResultMessage(commandId: id, status: .unknown, reason: "unresolved: \(why)")
      case .absent:
        hostLog.info("command \(id): recorded as started, not on the platform: it runs")
      }
    }
    guard writes.userCreate != nil || !command.isAccountOpening,
      writes.balanceChange != nil || command.isAccountOpening
    else {
      return finish(id, CommandLog.Result(status: .rejected, hostResult: Self.unsupported, deal: 0, login: 0), record: record)
    }
    if let problem = record.recordIntent(commandId: id, brokerMilliseconds: writes.brokerMilliseconds) {
      hostLog.error("command \(id) not run: \(problem)")
      return CommandResultMessage(commandId: id, status: .unknown, reason: "not run: the intent cannot be recorded")
    }
    guard let (hostResult, made) = writes.run(command) else {
      return finish(id, CommandLog.Result(status: .rejected, hostResult: Self.unsupported, deal: 0, login: 0), record: record)
    }
    if let word = abandonWord, case .moveMoney(let movement) = command.request, movement.comment.contains(word) {
      hostLog.warning("test fault point: command \(id) abandoned after the host call (result \(hostResult))")
      return nil
    }
    let result = hostResult == TS_OK
      ? CommandLog.Result(status: .done, hostResult: 0, deal: command.isAccountOpening ? 0 : made,
                          login: command.isAccountOpening ? made : command.request.login)
      : CommandLog.Result(status: .rejected, hostResult: hostResult, deal: 0, login: 0)
    return finish(id, result, record: record)
  }

  /// Records a final result, then reports it; one that cannot be recorded is reported
  /// unknown, and the next delivery resolves it from the platform.
  private func finish(_ id: UInt64, _ result: CommandLog.Result, record: CommandLog) -> CommandResultMessage {
    if let problem = record.recordResult(commandId: id, result) {
      hostLog.error("command \(id): \(problem): reported unknown until the platform's records resolve it")
      return CommandResultMessage(commandId: id, status: .unknown, reason: "result not recorded")
    }
    return message(id, result)
  }

  private func message(_ id: UInt64, _ result: CommandLog.Result) -> CommandResultMessage {
    CommandResultMessage(
      commandId: id, status: result.status, hostResult: result.hostResult, deal: result.deal, login: result.login,
      reason: result.status == .rejected ? Self.reason(result.hostResult) : "")
  }

  /// The host result recorded for a host that does not offer the call (its table
  /// ends before it, or the member is NULL): no `ts_result` is negative.
  static let unsupported: ts_result = -1

  /// The platform's refusal as the API reports it.
  static func reason(_ result: ts_result) -> String {
    switch result {
    case unsupported: "unsupported"
    case TS_ERR_NO_MONEY: "no_money"
    case TS_ERR_NOT_FOUND: "not_found"
    case TS_ERR_INVALID_ARGUMENT: "invalid_argument"
    case TS_ERR_BUSY: "busy"
    default: "host_error_\(result)"
    }
  }
}

extension CommandMessage {
  var isAccountOpening: Bool {
    if case .openAccount = request { return true }
    return false
  }
}
