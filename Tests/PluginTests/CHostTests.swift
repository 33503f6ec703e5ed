import Foundation
import Testing
import TradeServerAPI
import TradeTapEvents
import TradeTapJournal
import TradeTapPluginCore

@Suite("Plugin in a C host", .serialized)
struct CHostTests {
  @Test func eventsFiredFromSeveralThreadsAreJournaledWithGapFreeSequences() throws {
    let setup = CHost.Setup(sizeMB: 16)
    let result = try CHost.launch(setup, ["--threads", "4", "--events", "5000"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(hostValues(result.stdout, "hooks_returned") == ["20000"])

    let journal = try setup.openJournal()
    let records = allRecords(journal)
    #expect(records.count == 20000)
    #expect(records.map(\.sequence).elementsEqual(0..<20000), "sequences are not 0..<20000")
    #expect(records.allSatisfy { $0.flags.isEmpty })
    let kinds = Set(records.compactMap { RecordKind(rawValue: $0.kind) })
    #expect(kinds == [.dealAdd, .orderAdd, .positionUpdate, .userUpdate, .tradeAdd, .dealUpdate, .positionDelete])
    // Every deal the host fired is there once, byte for byte what the host set.
    let dealTickets = records.filter { $0.kind == RecordKind.dealAdd.rawValue }.map { load(ts_deal.self, $0).deal }
    #expect(Set(dealTickets).count == dealTickets.count)
    #expect(dealTickets.count == 4 * ((5000 + 6) / 7))
    let trade = try #require(records.first { $0.kind == RecordKind.tradeAdd.rawValue })
    #expect(trade.payload.count == 160 + 176)
    #expect(trade.mode == TS_OPEN_NEW)
    #expect(load(ts_user_info.self, trade, offset: 160).login == load(ts_trade_record.self, trade).login)
  }

  @Test func hostSurvivesEveryHostileInputAndEachInvalidRecordIsQuarantined() throws {
    let setup = CHost.Setup()
    let result = try CHost.launch(setup, ["--hostile"])
    #expect(result.status == 0, "host died: \(result.status) \(result.stderr)")
    #expect(hostValues(result.stdout, "hooks_returned") == ["21"])
    #expect(hostValues(result.stdout, "cleanup") == ["done"])
    #expect(result.stderr.contains("stopped: 21 journaled, 11 quarantined, 0 overflowed"), "\(result.stderr)")

    let journal = try setup.openJournal()
    let records = allRecords(journal)
    try #require(records.count == 21)
    func quarantined(_ record: JournalRecord) -> Bool {
      if record.flags.needsQuarantine { return true }
      guard let raw = RawRecord(journal: record) else { return false }
      let event = Normaliser.normalise(raw, serverId: 1, sequence: record.sequence, utcOffsetMinutes: 120)
      if case .quarantine = event.body { return true }
      return false
    }
    // Records the spec calls valid: a full string without NUL (index 9) and an MT4
    // trade whose host has no account (user NULL, index 17).
    let valid: Set<Int> = [9, 17]
    for (index, record) in records.enumerated() {
      #expect(quarantined(record) == !valid.contains(index), "hostile input \(index) (kind \(record.kind), flags \(record.flags.rawValue))")
    }
    #expect(records[0].flags.contains(.nullRecord))
    #expect(records[1].flags.contains(.shortRecord) && records[1].declaredSize == 0)
    #expect(records[2].flags.contains(.shortRecord) && records[2].declaredSize == 3)
    #expect(records[3].flags.contains(.implausibleSize) && records[3].payload.count == 256)
    #expect(records[4].flags.contains(.shortRecord) && records[4].declaredSize == 100)
    // Bytes past a short struct_size are zero, not whatever followed in memory.
    #expect(records[4].payload[100...].allSatisfy { $0 == 0 })
    // NaN travels verbatim for the quarantine's raw bytes.
    #expect(load(ts_deal.self, records[5]).profit.isNaN)
    // A full symbol without NUL keeps its 32 bytes.
    #expect(Array(records[9].payload[32..<64]).count == 32)
    #expect(records[17].flags.contains(.secondaryNull) && !records[17].flags.needsQuarantine)
    #expect(records[18].flags.contains(.nullRecord))
    #expect(records[19].flags.contains(.secondaryShort))
    #expect(records[20].mode == 12345)
  }

  @Test func everyEventWhoseHookReturnedSurvivesKillDashNine() throws {
    let setup = CHost.Setup(sizeMB: 64)
    let progressPath = setup.journalPath + ".progress"
    let host = try CHost.executable.get()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: host)
    process.arguments = setup.arguments([
      "--threads", "2", "--events", "0", "--kinds", "deals", "--sleep-us", "20", "--progress", progressPath,
      "--log", setup.journalPath + ".log",
    ])
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    // Wait for a few thousand returned hooks, then kill -9 mid-stream.
    var returned: [UInt64] = [0, 0]
    for _ in 0..<3000 {
      usleep(10_000)
      returned = readProgress(progressPath, threads: 2)
      if returned.reduce(0, +) >= 4000 { break }
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    returned = readProgress(progressPath, threads: 2)  // final: the host cannot write any more
    #expect(returned.reduce(0, +) >= 4000)

    let journal = try setup.openJournal()
    let records = allRecords(journal)
    let statistics = journal.statistics
    #expect(statistics.overflowedTotal == 0)  // inside the bound: nothing refused
    #expect(UInt64(records.count) == statistics.nextSequence)  // every claimed sequence is readable
    #expect(records.map(\.sequence).elementsEqual(0..<statistics.nextSequence), "sequences have holes")
    var tickets = Set<UInt64>()
    for record in records where record.kind == RecordKind.dealAdd.rawValue {
      tickets.insert(load(ts_deal.self, record).deal)
    }
    for thread in 0..<2 {
      for index in 0..<returned[thread] {
        let ticket = (UInt64(thread + 1) << 32) | index
        if !tickets.contains(ticket) {
          Issue.record("deal \(ticket) (thread \(thread), index \(index)) returned from its hook but is not in the journal")
          return
        }
      }
    }
    // Claimed-never-committed sequences (the kill landing mid-hook) are gap records.
    let gaps = records.filter { $0.kind == journalGapKind }
    #expect(gaps.map(\.sequence) == journal.recovery.uncommittedSequences)
    #expect(gaps.allSatisfy { $0.flags.contains(.gapUncommitted) && $0.gapCount == 1 })
    #expect(records.count == tickets.count + gaps.count)
  }

  @Test func aHostThatDiesInsideAHookLeavesAGapForTheClaimedSequence() throws {
    let setup = CHost.Setup()
    // 50 events, then a hook that faults between claiming its slot and committing it.
    let result = try CHost.launch(setup, ["--threads", "1", "--events", "50", "--kinds", "deals", "--crash-mid-hook"])
    #expect(hostValues(result.stdout, "hooks_returned") == ["50"])
    #expect(hostValues(result.stdout, "crash_mid_hook").isEmpty)
    #expect(result.status != 0)

    let journal = try setup.openJournal()
    #expect(journal.recovery.uncommittedSequences == [50])
    let records = allRecords(journal)
    #expect(records.count == 51)
    #expect(records.prefix(50).allSatisfy { $0.kind == RecordKind.dealAdd.rawValue })
    let gap = try #require(records.last)
    #expect(gap.sequence == 50 && gap.kind == journalGapKind && gap.flags.contains(.gapUncommitted) && gap.gapCount == 1)
    #expect(append(after: journal) == 51)  // sequence numbers continue after the gap
  }

  @Test func fullJournalNeverBlocksTheHostAndReportsTheRefusedEventsAsOneGap() throws {
    let setup = CHost.Setup(sizeMB: 1)  // 2048 slots
    let result = try CHost.launch(setup, ["--threads", "2", "--events", "1500", "--kinds", "deals"])
    #expect(hostValues(result.stdout, "hooks_returned") == ["3000"])
    #expect(result.stderr.contains("stopped: 2048 journaled, 0 quarantined, 952 overflowed"), "\(result.stderr)")

    let journal = try setup.openJournal()
    let records = allRecords(journal)
    #expect(records.count == 2048)
    #expect(journal.statistics.overflowPending == 952)
    journal.release(through: records.last!.sequence)  // the collector acknowledged: space returns
    let gap = try #require(journal.nextRecord())
    #expect(gap.sequence == 2048)
    #expect(gap.flags.contains(.gapOverflow))
    #expect(gap.gapCount == 952)
  }

  @Test func startupRefusesInvalidParametersWithOneLogLinePerProblem() throws {
    var setup = CHost.Setup()
    setup.parameters["Collector"] = "nowhere"
    setup.parameters["Events"] = "deals,fills"
    setup.parameters["Groups"] = "!demo*"
    setup.parameters["Heartbeat.Seconds"] = "0"
    setup.parameters["TLS"] = "maybe"
    let result = try CHost.launch(setup, [])
    #expect(result.status == 3)
    #expect(hostValues(result.stdout, "startup") == ["\(TS_ERR_CONFIG)"])
    for parameter in ["Collector", "Events", "Groups", "Heartbeat.Seconds", "TLS"] {
      #expect(result.stderr.contains("[error] TradeTap: parameter \(parameter): "), "no log line for \(parameter)")
    }
    #expect(!FileManager.default.fileExists(atPath: setup.journalPath + "/journal.ttj"))
  }

  @Test func aDamagedJournalIsMovedAsideWithOneLogLineAndThePluginStarts() throws {
    let setup = CHost.Setup()
    try FileManager.default.createDirectory(atPath: setup.journalPath, withIntermediateDirectories: true)
    let damaged = Data(repeating: 1, count: 4096)
    FileManager.default.createFile(atPath: setup.journalPath + "/journal.ttj", contents: damaged)
    let result = try CHost.launch(setup, [])
    #expect(hostValues(result.stdout, "startup") == ["0"])
    #expect(result.stderr.contains("was damaged (bad magic): moved aside to \(setup.journalPath)/journal.ttj.damaged-"), "\(result.stderr)")
    let aside = try FileManager.default.contentsOfDirectory(atPath: setup.journalPath).filter { $0.hasPrefix("journal.ttj.damaged-") }
    #expect(aside.count == 1)
    #expect(FileManager.default.contents(atPath: setup.journalPath + "/" + (aside.first ?? "")) == damaged)
  }

  @Test func startupRefusesAnUnusableJournalPathWithAnIOError() throws {
    let setup = CHost.Setup()
    // Journal.Path names a regular file: no journal can be created under it.
    let parent = (setup.journalPath as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: setup.journalPath, contents: Data([1]))
    let result = try CHost.launch(setup, [])
    #expect(hostValues(result.stdout, "startup") == ["\(TS_ERR_IO)"])
    #expect(result.stderr.contains("startup refused: journal: open("), "\(result.stderr)")
  }

  @Test func startupRefusesAHostOfAnotherAPIVersion() throws {
    let setup = CHost.Setup()
    let result = try CHost.launch(setup, [], environment: ["TRADETAP_HOST_API_VERSION": "2"])
    #expect(hostValues(result.stdout, "startup") == ["\(TS_ERR_VERSION)"])
    #expect(result.stderr.contains("host API version 2"))
  }

  /// A first-round host's table ends at `trades_enum` (no `user_create`, no
  /// `balance_change`): it still starts; a table shorter than that is refused.
  @Test func aFirstRoundHostStartsAndATableShorterThanThatIsRefused() throws {
    let setup = CHost.Setup()
    let first = try CHost.launch(setup, ["--events", "10", "--threads", "1"],
                                 environment: ["TRADETAP_HOST_API_SIZE": "first-round"])
    #expect(hostValues(first.stdout, "startup") == ["0"], "\(first.stderr)")
    let short = try CHost.launch(CHost.Setup(), [], environment: ["TRADETAP_HOST_API_SIZE": "40"])
    #expect(hostValues(short.stdout, "startup") == ["\(TS_ERR_INVALID_ARGUMENT)"])
    #expect(short.stderr.contains("ts_server_api.struct_size 40 is smaller"), "\(short.stderr)")
  }

  @Test func parametersAreReadFromTheHostEnvironmentToo() throws {
    var setup = CHost.Setup()
    let collector = setup.parameters.removeValue(forKey: "Collector")!
    let result = try CHost.launch(setup, ["--events", "10", "--threads", "1"],
                               environment: ["TRADETAP_PARAM_Collector": collector])
    #expect(hostValues(result.stdout, "startup") == ["0"], "\(result.stderr)")
  }

  @Test func configSetAppliesANewEventsFilterAtTheHook() throws {
    let setup = CHost.Setup()
    let result = try CHost.launch(setup, ["--reload", "Events=deals", "--threads", "1", "--events", "700"])
    #expect(hostValues(result.stdout, "reload") == ["0"], "\(result.stderr)")
    let journal = try setup.openJournal()
    let records = allRecords(journal)
    #expect(Set(records.map(\.kind)) == [RecordKind.dealAdd.rawValue, RecordKind.dealUpdate.rawValue])
    // Filtered events consume no sequence number: 200 deals of 700 events, numbered 0..<200.
    #expect(records.count == 200)
    #expect(records.map(\.sequence).elementsEqual(0..<200), "sequences have holes")
  }

  @Test func configSetWithInvalidParametersKeepsTheOldOnes() throws {
    let setup = CHost.Setup()
    let result = try CHost.launch(setup, ["--reload", "Events=fills", "--threads", "1", "--events", "700"])
    #expect(hostValues(result.stdout, "reload") == ["\(TS_ERR_CONFIG)"])
    #expect(result.stderr.contains("configuration refused"))
    let journal = try setup.openJournal()
    #expect(allRecords(journal).count == 700)  // every family still journaled
  }

  @Test func startupAfterCleanupInTheSameProcessResumesTheJournal() throws {
    let setup = CHost.Setup()
    let result = try CHost.launch(setup, ["--cycles", "3", "--threads", "2", "--events", "100"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(hostValues(result.stdout, "startup") == ["0", "0", "0"])
    #expect(hostValues(result.stdout, "cleanup") == ["done", "done", "done"])
    let journal = try setup.openJournal()
    #expect(allRecords(journal).map(\.sequence).elementsEqual(0..<600), "sequences are not 0..<600")
  }

  @Test func aboutListsTheParametersAndHonoursStructSize() throws {
    let host = try CHost.executable.get()
    let result = try run(host, [Artifacts.plugin, "--about-check"])
    #expect(result.status == 0, "\(result.stdout)")
    #expect(hostValues(result.stdout, "about.name") == ["TradeTap"])
    #expect(hostValues(result.stdout, "about.struct_size_honoured") == ["yes"])
    let parameters = hostValues(result.stdout, "about.param")
    #expect(parameters.map { String($0.prefix { $0 != "=" }) } == PluginParameters.definitions.map(\.name))
    #expect(parameters.contains("Groups=*") && parameters.contains("Journal.SizeMB=256") && parameters.contains("TLS=on"))
  }
}

/// Appends one record through the journal's producer; its sequence number.
func append(after journal: Journal) -> UInt64? {
  guard let slot = journal.producer.claim() else { return nil }
  journal.producer.commit(slot, kind: 1, flags: [], mode: 0, declaredSize: 0, declaredSecondarySize: 0, payloadLength: 0)
  return slot.sequence
}

func readProgress(_ path: String, threads: Int) -> [UInt64] {
  guard let data = FileManager.default.contents(atPath: path), data.count >= threads * 8 else {
    return [UInt64](repeating: 0, count: threads)
  }
  return (0..<threads).map { index in data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) } }
}
