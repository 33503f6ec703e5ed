import TradeServerAPI
import TradeTapEvents
import TradeTapJournal

/// Turns committed journal records into wire events, in sequence order.
///
/// Journal sequence numbers start at 0; wire sequence numbers start at 1 (the
/// welcome's "0 = nothing durable"): wire = journal + 1 + the journal's
/// `wireOffset`, everywhere in the sender. The offset is 0 unless the journal was
/// started fresh while the collector already held events of this server; then it is
/// the collector's durable sequence + 1, and that one wire sequence carries the gap
/// standing for whatever the old journal lost (``replacementGap(sequence:)``).
///
/// Every sequence number becomes exactly one event, because the collector expects
/// consecutive sequences (a hole is recorded as a "not received" gap):
/// - hook records → the Normaliser's event (a `Quarantine` body when unrepresentable);
/// - journal gap records → a `gap` event (overflow or uncommitted);
/// - records whose account's group fails `Groups` → a `gap` event with reason
///   `filtered`, so the collector learns the number is deliberately empty and the
///   account's data never leaves the server.
struct JournalEventSource {
  let serverId: UInt32
  let utcOffsetMinutes: Int32
  let api: UnsafePointer<ts_server_api>
  let counters: PluginCounterWords
  let log: HostLog
  private(set) var directory: LoginGroupDirectory
  private var filtersGroups: Bool

  init(environment: SenderEnvironment, groups: GroupMask) {
    self.init(serverId: environment.serverInfo.server_id, utcOffsetMinutes: environment.serverInfo.utc_offset_minutes,
              api: environment.api, counters: environment.counters, log: environment.log, groups: groups)
  }

  init(serverId: UInt32, utcOffsetMinutes: Int32, api: UnsafePointer<ts_server_api>, counters: PluginCounterWords,
       log: HostLog, groups: GroupMask) {
    self.serverId = serverId
    self.utcOffsetMinutes = utcOffsetMinutes
    self.api = api
    self.counters = counters
    self.log = log
    directory = LoginGroupDirectory(mask: groups)
    filtersGroups = groups != GroupMask.everyGroup
  }

  /// A new `Groups` value (hot reload).
  mutating func replaceGroups(_ groups: GroupMask) {
    directory.replaceMask(groups)
    filtersGroups = groups != GroupMask.everyGroup
  }

  static func wireSequence(ofJournal sequence: UInt64, wireOffset: UInt64) -> UInt64 {
    sequence &+ 1 &+ wireOffset
  }

  /// The gap at the one wire sequence a fresh journal reserved (its `wireOffset`):
  /// what the replaced journal held is lost, so the collector records a gap (reason
  /// `other`) and reconciliation heals it from the platform's state.
  func replacementGap(sequence: UInt64) -> Event {
    Event(
      serverId: serverId, sequence: sequence, kind: .gap, hookTimestampNanos: Deadline.now(),
      utcOffsetMinutes: utcOffsetMinutes, body: .gap(Gap(firstSequence: sequence, count: 1, reason: .other)))
  }

  /// The event that carries `record`'s sequence number on the wire.
  mutating func event(for record: JournalRecord, wireOffset: UInt64) -> Event {
    let sequence = Self.wireSequence(ofJournal: record.sequence, wireOffset: wireOffset)
    if record.kind == journalGapKind {
      let reason: GapReason = record.flags.contains(.gapUncommitted) ? .uncommitted : .overflow
      if reason == .overflow {
        log.warning("journal was full: \(record.gapCount ?? 0) events were refused (gap at sequence \(sequence)); reconciliation heals it")
      }
      // The refused count travels in the gap (refusedEvents), not in `count`: those
      // events had no sequence numbers, so a larger count would cover later, real ones.
      return gapEvent(sequence: sequence, reason: reason, record: record,
                      refusedEvents: reason == .overflow ? record.gapCount : nil)
    }
    guard let raw = RawRecord(journal: record) else {
      counters.countQuarantinedInSender()
      log.error("journal record \(sequence) has unknown kind \(record.kind): sent as a gap")
      return gapEvent(sequence: sequence, reason: .other, record: record)
    }
    let event = Normaliser.normalise(
      raw, serverId: serverId, sequence: sequence, hookTimestampNanos: record.hookMonotonicNanoseconds,
      utcOffsetMinutes: utcOffsetMinutes)
    if case .quarantine = event.body, !record.flags.needsQuarantine {
      counters.countQuarantinedInSender()
    }
    guard filtersGroups, !admits(event) else { return event }
    counters.countFilteredByGroup()
    return gapEvent(sequence: sequence, reason: .filtered, record: record)
  }

  private func gapEvent(sequence: UInt64, reason: GapReason, record: JournalRecord, refusedEvents: UInt64? = nil) -> Event {
    Event(
      serverId: serverId, sequence: sequence, kind: .gap, hookTimestampNanos: record.hookMonotonicNanoseconds,
      utcOffsetMinutes: utcOffsetMinutes,
      body: .gap(Gap(firstSequence: sequence, count: 1, reason: reason, refusedEvents: refusedEvents)))
  }

  /// Whether a snapshot record's account passes `Groups` (reconciliation answers).
  mutating func admitsSnapshot(_ event: Event) -> Bool { !filtersGroups || admits(event) }

  /// Whether the event's account passes `Groups` (learning groups as it goes).
  private mutating func admits(_ event: Event) -> Bool {
    switch event.body {
    case .user(let user):
      if event.kind == .userDelete { directory.forget(login: user.login) } else { directory.record(login: user.login, group: user.group) }
      return directory.admits(group: user.group)
    case .trade(let trade):
      if let info = trade.user {
        directory.record(login: UInt64(UInt32(bitPattern: trade.login)), group: info.group)
        return directory.admits(group: info.group)
      }
      return admits(login: UInt64(UInt32(bitPattern: trade.login)))
    case .deal(let deal): return admits(login: deal.login)
    case .order(let order): return admits(login: order.login)
    case .position(let position): return admits(login: position.login)
    // Gateway records carry their account's group; answers and acks carry none.
    case .gateway(.request(let request)): return directory.admits(group: request.group)
    case .gateway(.execution(let execution)): return directory.admits(group: execution.group)
    case .gap, .quarantine, .gateway(.answer), .gateway(.executionAck): return true
    }
  }

  private mutating func admits(login: UInt64) -> Bool {
    switch directory.admission(of: login) {
    case .admitted: return true
    case .excluded: return false
    case .unknownLogin:
      guard let group = hostGroup(of: login) else {
        // Unknown to the host too: forward rather than drop data silently.
        return true
      }
      directory.record(login: login, group: group)
      return directory.admits(group: group)
    }
  }

  /// Asks the host (`user_get`, allowed from plugin threads) for a login's group.
  private func hostGroup(of login: UInt64) -> String? {
    guard let userGet = api.pointee.user_get else { return nil }
    var user = ts_user()
    user.struct_size = UInt32(MemoryLayout<ts_user>.size)
    guard userGet(api.pointee.host, login, &user) == TS_OK else { return nil }
    return withUnsafeBytes(of: user.group) { bytes in
      String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
  }
}
