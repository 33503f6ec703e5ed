import Foundation
import Glibc
import Testing
import TradeTapJournal
import TradeTapPluginCore

/// The real plugin core (parameters, journal, hooks) with the real sender thread,
/// against a real `tradetap collector` process over loopback sockets.
@Suite(.serialized) struct DeliverySpecification {
  let folder: String
  let secretFile: String

  init() throws {
    folder = try makeTemporaryFolder()
    secretFile = folder + "/plugin-secret"
    try "# server 7\ns3cret-for-tests\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
    chmod(secretFile, 0o600)
  }

  private func parameters(collector: String, tls: TestCertificate?, journalMB: Int = 8) -> [String: String] {
    var values = [
      "Collector": collector, "SecretFile": secretFile, "Journal.Path": folder + "/journal",
      "Journal.SizeMB": "\(journalMB)", "Heartbeat.Seconds": "1",
    ]
    if let tls {
      values["TLS.CAFile"] = tls.certPath
      values["TLS.ServerName"] = "collector.test"
    } else {
      values["TLS"] = "off"
    }
    return values
  }

  /// Polls until `condition` holds or `seconds` pass.
  private func eventually(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if try condition() { return true }
      usleep(20_000)
    }
    return try condition()
  }

  @Test func everyEventReachesTheLedgerOnceOverTLS13AndAcksReleaseTheJournal() throws {
    let certificate = try TestCertificate()
    let collector = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: certificate)
    Sender.install()
    // TRADETAP_SENDER_EVENTS raises the count for a throughput reading (printed, never asserted).
    let total = Int(ProcessInfo.processInfo.environment["TRADETAP_SENDER_EVENTS"] ?? "") ?? 5_000
    let journalMB = max(8, total * 512 / (1 << 20) + 2)  // every event fits: no overflow gap
    let host = InProcessHost(
      serverId: 7, parameters: parameters(collector: "127.0.0.1:\(collector.port)", tls: certificate, journalMB: journalMB))
    let instance = try PluginInstance.startup(api: host.api)
    let started = Date()
    for ticket in 1...total { host.fireDeal(ticket: UInt64(ticket)) }

    let released = eventually(seconds: 120) { instance.journal.releasedSequence == UInt64(total) }
    let elapsed = Date().timeIntervalSince(started)
    let delivered = try eventually(seconds: 10) { try collector.count("SELECT count(*) FROM events WHERE server_id = 7") == total }
    let releasedThrough = instance.journal.releasedSequence
    instance.cleanup()
    print("sender: \(total) events hook → durable ack (journal released) in \(String(format: "%.3f", elapsed)) s = \(Int(Double(total) / elapsed)) events/s over TLS 1.3")

    let rows = try collector.count("SELECT count(*) FROM events WHERE server_id = 7")
    #expect(delivered, "ledger events: \(rows); log: \(host.log.suffix(5))")
    #expect(try collector.count("SELECT count(*) FROM deals WHERE server_id = 7") == total)
    #expect(try collector.count("SELECT count(DISTINCT seq) FROM events WHERE server_id = 7 AND seq BETWEEN 1 AND \(total)") == total)
    #expect(released, "journal released through \(releasedThrough) of \(total)")
    #expect(host.log.contains { $0.contains("connected to collector") && $0.contains("TLS 1.3") })
    #expect(host.log.contains { $0.contains("sender stopped") }, "cleanup joined the sender thread after it logged its exit")
  }

  @Test func anUnreachableFirstCollectorFailsOverToTheNextInTheList() throws {
    let collector = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: nil)
    let closedPort = try unusedPort()
    Sender.install()
    let host = InProcessHost(
      serverId: 7, parameters: parameters(collector: "127.0.0.1:\(closedPort),127.0.0.1:\(collector.port)", tls: nil))
    let instance = try PluginInstance.startup(api: host.api)
    for ticket in 1...100 { host.fireDeal(ticket: UInt64(ticket)) }
    let delivered = try eventually(seconds: 20) { try collector.count("SELECT count(*) FROM events WHERE server_id = 7") == 100 }
    instance.cleanup()
    #expect(delivered)
    let log = host.log
    let refused = log.firstIndex { $0.contains("127.0.0.1:\(closedPort)") && $0.contains("refused") }
    let connected = log.firstIndex { $0.contains("connected to collector 127.0.0.1:\(collector.port)") }
    #expect(refused != nil && connected != nil && refused! < connected!, "\(log)")
  }

  @Test func aCollectorKilledMidStreamIsRejoinedAndTheLedgerStillHoldsEachEventOnce() throws {
    let port = try unusedPort()
    var collector = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: nil, listenPort: port)
    Sender.install()
    let host = InProcessHost(serverId: 7, parameters: parameters(collector: "127.0.0.1:\(port)", tls: nil))
    let instance = try PluginInstance.startup(api: host.api)
    // A host thread fires 3,000 deals over ~0.6 s; the collector dies (kill -9) while
    // they flow and comes back on the same port and ledger 0.3 s later.
    let firing = Thread {
      for ticket in 1...3_000 {
        host.fireDeal(ticket: UInt64(ticket))
        usleep(200)
      }
    }
    firing.start()
    // Kill as soon as part of the stream is durable (polled: the machine may be loaded).
    var beforeKill = 0
    for _ in 0..<1000 where beforeKill == 0 {
      usleep(10_000)
      beforeKill = try collector.count("SELECT count(*) FROM events WHERE server_id = 7")
    }
    collector.stop(signal: SIGKILL)
    usleep(300_000)
    collector = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: nil, listenPort: port)
    let delivered = try eventually(seconds: 40) { try collector.count("SELECT count(*) FROM events WHERE server_id = 7") == 3_000 }
    let released = eventually(seconds: 10) { instance.journal.releasedSequence == 3_000 }
    instance.cleanup()
    let rows = try collector.count("SELECT count(*) FROM events WHERE server_id = 7")
    #expect(beforeKill > 0 && beforeKill < 3_000, "the kill landed mid-stream (\(beforeKill) rows before it)")
    #expect(delivered, "ledger events: \(rows)")
    #expect(try collector.count("SELECT count(*) FROM deals WHERE server_id = 7") == 3_000)
    #expect(released)
    #expect(host.log.filter { $0.contains("connected to collector") }.count >= 2)
  }

  @Test func accountsOutsideGroupsNeverLeaveTheServerButTheirSequencesAreAccountedFor() throws {
    let collector = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: nil)
    Sender.install()
    var values = parameters(collector: "127.0.0.1:\(collector.port)", tls: nil)
    values["Groups"] = "*,!demo*"
    let host = InProcessHost(serverId: 7, parameters: values)
    let instance = try PluginInstance.startup(api: host.api)
    host.fireUser(login: 5001, group: "real\\retail")
    host.fireUser(login: 6001, group: "demo\\contest")
    for ticket in 1...50 { host.fireDeal(ticket: UInt64(ticket), login: ticket % 2 == 0 ? 5001 : 6001) }
    let released = eventually(seconds: 20) { instance.journal.releasedSequence == 52 }
    instance.cleanup()
    #expect(released)
    #expect(try collector.count("SELECT count(*) FROM events WHERE server_id = 7") == 52, "every sequence arrives")
    #expect(try collector.count("SELECT count(*) FROM deals WHERE server_id = 7 AND login = 5001") == 25)
    #expect(try collector.count("SELECT count(*) FROM deals WHERE server_id = 7 AND login = 6001") == 0)
    #expect(try collector.count("SELECT count(*) FROM accounts WHERE server_id = 7 AND login = 6001") == 0)
    #expect(try collector.count("SELECT count(*) FROM accounts WHERE server_id = 7 AND login = 5001") == 1)

    // The withheld sequences (account 6001 and its 25 deals) are deliberate holes, not loss.
    #expect(try collector.count("SELECT count(*) FROM events WHERE server_id = 7 AND kind = 'filtered'") == 26)
    #expect(try collector.count("SELECT count(*) FROM gaps WHERE server_id = 7") == 0)
    // The hello carried ts_server_info: the collector's servers row is named.
    #expect(try collector.count(
      "SELECT count(*) FROM servers WHERE id = 7 AND name = 'Sender Test 7' AND platform = 5 AND utc_offset_minutes = 120") == 1)
  }

  @Test func eventsRefusedByAFullJournalArriveAsOneOverflowGapThatStatesHowMany() throws {
    let port = try unusedPort()
    Sender.install()
    // No collector yet: nothing is acknowledged, so a 1 MB journal fills and refuses the rest.
    let host = InProcessHost(serverId: 7, parameters: parameters(collector: "127.0.0.1:\(port)", tls: nil, journalMB: 1))
    let instance = try PluginInstance.startup(api: host.api)
    let capacity = Int(instance.journal.statistics.capacity)
    for ticket in 1...(capacity + 52) { host.fireDeal(ticket: UInt64(ticket)) }
    #expect(instance.journal.statistics.overflowPending == 52)
    let collector = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: nil, listenPort: port)
    // The gap record takes the next sequence once acks free space: capacity + 1 on the wire.
    let released = eventually(seconds: 40) { instance.journal.releasedSequence == UInt64(capacity + 1) }
    instance.cleanup()
    #expect(released, "released through \(instance.journal.releasedSequence)")
    #expect(try collector.count("SELECT count(*) FROM deals WHERE server_id = 7") == capacity)
    let gap = "server_id = 7 AND reason = 'overflow' AND first_seq = \(capacity + 1) AND last_seq = \(capacity + 1)"
    #expect(try collector.count("SELECT count(*) FROM gaps WHERE \(gap) AND refused_events = 52") == 1)
  }

  @Test func theSenderThreadParksWhenIdleAndNoneOutlivesCleanup() throws {
    let collector = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: nil)
    Sender.install()
    let host = InProcessHost(serverId: 7, parameters: parameters(collector: "127.0.0.1:\(collector.port)", tls: nil))
    let instance = try PluginInstance.startup(api: host.api)
    for ticket in 1...10 { host.fireDeal(ticket: UInt64(ticket)) }
    #expect(eventually(seconds: 20) { instance.journal.releasedSequence == 10 })
    let threads = senderThreads()
    #expect(threads.count == 1)
    // TRADETAP_IDLE_SECONDS lengthens the idle window for a CPU reading (printed, never asserted).
    let seconds = Double(ProcessInfo.processInfo.environment["TRADETAP_IDLE_SECONDS"] ?? "") ?? 3
    let before = threads.first.map(cpuTicks) ?? 0
    usleep(useconds_t(seconds * 1_000_000))
    let after = threads.first.map(cpuTicks) ?? 0
    let share = Double(after - before) / Double(sysconf(Int32(_SC_CLK_TCK))) / seconds * 100
    print("sender: idle for \(seconds) s (heartbeat 1 s, TLS off): \(after - before) CPU ticks = \(String(format: "%.3f", share)) % of a core")
    #expect(threads.first.map(threadState) == "S", "parked, not spinning")
    instance.cleanup()
    #expect(senderThreads().isEmpty, "no sender thread outlives cleanup")
  }

  @Test func aCollectorSilentForThreeHeartbeatIntervalsIsDeclaredDeadAndRedialled() throws {
    let silent = try HostileCollector(secret: "s3cret-for-tests") { _ in
      .init(heartbeatMillis: 300, silentAfterWelcome: true)
    }
    defer { silent.close() }
    Sender.install()
    let host = InProcessHost(serverId: 7, parameters: parameters(collector: "127.0.0.1:\(silent.port)", tls: nil))
    let instance = try PluginInstance.startup(api: host.api)
    let redialled = eventually(seconds: 10) { silent.connections.load(ordering: .relaxed) >= 2 }
    instance.cleanup()
    #expect(redialled)
    #expect(host.log.contains { $0.contains("silent for") && $0.contains("presumed dead") }, "\(host.log)")
    #expect(silent.heartbeatsReceived.load(ordering: .relaxed) >= 2, "the idle sender sent heartbeats at the welcome's interval")
  }

  @Test func aHotReloadedCollectorListMovesDeliveryAndReportsWhatTheNewLedgerCannotGet() throws {
    let first = try CollectorPeer(folder: folder, secrets: "7 s3cret-for-tests\n", tls: nil)
    let secondFolder = try makeTemporaryFolder()
    let second = try CollectorPeer(folder: secondFolder, secrets: "7 s3cret-for-tests\n", tls: nil)
    Sender.install()
    var values = parameters(collector: "127.0.0.1:\(first.port)", tls: nil)
    let host = InProcessHost(serverId: 7, parameters: values)
    let instance = try PluginInstance.startup(api: host.api)
    for ticket in 1...10 { host.fireDeal(ticket: UInt64(ticket)) }
    #expect(eventually(seconds: 20) { instance.journal.releasedSequence == 10 })

    values["Collector"] = "127.0.0.1:\(second.port)"
    #expect(instance.applyConfiguration(values) == 0)
    for ticket in 11...20 { host.fireDeal(ticket: UInt64(ticket)) }
    let moved = try eventually(seconds: 20) { try second.count("SELECT count(*) FROM events WHERE server_id = 7") == 10 }
    instance.cleanup()
    #expect(moved)
    #expect(try first.count("SELECT count(*) FROM events WHERE server_id = 7") == 10)
    #expect(try second.count("SELECT min(seq) FROM events WHERE server_id = 7") == 11)
    // Sequences 1...10 were released after the first ledger acknowledged them: the
    // second ledger is told they exist and will not come (a gap notice), not left guessing.
    #expect(try second.count("SELECT count(*) FROM gaps WHERE server_id = 7 AND first_seq = 1 AND last_seq = 10") == 1)
  }

  @Test func aSecretFileOthersCanReadFailsStartupWithTheReason() throws {
    chmod(secretFile, 0o644)
    Sender.install()
    let host = InProcessHost(serverId: 7, parameters: parameters(collector: "127.0.0.1:7400", tls: nil))
    #expect(throws: PluginStartupError.self) { _ = try PluginInstance.startup(api: host.api) }
    #expect(host.log.contains { $0.contains("chmod 600") }, "\(host.log)")
  }

  @Test func stopIsPromptWhileTheCollectorIsUnreachable() throws {
    Sender.install()
    let host = InProcessHost(serverId: 7, parameters: parameters(collector: "127.0.0.1:\(try unusedPort())", tls: nil))
    let instance = try PluginInstance.startup(api: host.api)
    host.fireDeal(ticket: 1)
    usleep(300_000)  // let it fail, back off and sleep
    instance.cleanup()
    #expect(host.log.contains { $0.contains("sender stopped") })
    #expect(host.log.contains { $0.contains("refused") })
  }
}

/// A loopback port nothing listens on (bound, then closed).
func unusedPort() throws -> UInt16 {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let ok = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
  }
  guard ok else { throw TestFailure("cannot bind a loopback port") }
  return UInt16(bigEndian: address.sin_port)
}

/// Thread ids of this process named `tradetap-sender`.
func senderThreads() -> [String] {
  let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
  return tasks.filter { tid in
    (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8))?.hasPrefix("tradetap-sender") == true
  }
}

/// utime + stime of a thread, in clock ticks (/proc/self/task/TID/stat fields 14 and 15).
func cpuTicks(_ tid: String) -> Int {
  let fields = statFields(tid)
  guard fields.count > 12 else { return 0 }
  return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
}

/// The thread's state letter (R running, S sleeping, ...).
func threadState(_ tid: String) -> String {
  statFields(tid).first ?? "?"
}

/// Fields after the `(comm)` of /proc/self/task/TID/stat, starting with the state.
private func statFields(_ tid: String) -> [String] {
  guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
    let close = text.lastIndex(of: ")")
  else { return [] }
  return text[text.index(after: close)...].split(separator: " ").map(String.init)
}
