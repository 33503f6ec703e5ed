import Foundation
import Testing
import TradeServerAPI
import TradeTapEvents
import TradeTapJournal
import TradeTapPluginCore

/// The plain-C gateway host (Tools/c-gateway-host/gateway-host.c), compiled once per
/// test process with `cc` against the header alone.
enum CGatewayHost {
  static let executable: Result<String, CHost.CompileFailure> = {
    let output = NSTemporaryDirectory() + "tradetap-c-gateway-host-\(getpid())"
    do {
      let result = try run("/usr/bin/env", [
        "cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", Artifacts.header,
        Artifacts.repository + "/Tools/c-gateway-host/gateway-host.c", "-o", output, "-ldl", "-lm",
      ])
      return result.status == 0 ? .success(output) : .failure(CHost.CompileFailure(message: result.stderr))
    } catch {
      return .failure(CHost.CompileFailure(message: "\(error)"))
    }
  }()

  static func launch(_ setup: CHost.Setup, _ extra: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    try run(try executable.get(), setup.arguments(extra), environment: environment)
  }
}

/// Whether the sender would forward a journaled record as a quarantine.
func quarantined(_ record: JournalRecord) -> Bool {
  if record.flags.needsQuarantine { return true }
  guard let raw = RawRecord(journal: record) else { return false }
  if case .quarantine = Normaliser.normalise(raw, serverId: 501, sequence: record.sequence, utcOffsetMinutes: 120).body {
    return true
  }
  return false
}

@Suite("Plugin in a C gateway host", .serialized)
struct GatewayHostTests {
  static let gatewayKinds: Set<UInt16> = Set([RecordKind.dealerLock, .dealerAnswer, .execution, .executionAck].map(\.rawValue))

  @Test func requestsAnswersAndExecutionsFromSeveralThreadsAreJournaledWithGapFreeSequences() throws {
    let setup = CHost.Setup(sizeMB: 16)
    let result = try CGatewayHost.launch(setup, ["--threads", "4", "--requests", "600"])
    #expect(result.status == 0, "\(result.stderr)")
    let returned = try #require(hostValues(result.stdout, "hooks_returned").first.flatMap { Int($0) })
    let executions = try #require(hostValues(result.stdout, "executions").first.flatMap { Int($0) })
    #expect(returned == 2 * 2400 + 2 * executions)  // lock + answer per request, execution + ack per execution
    #expect(result.stderr.contains("started: gateway 501"), "\(result.stderr)")

    let journal = try setup.openJournal()
    defer { withExtendedLifetime(journal) {} }  // the records point into its mapping
    let records = allRecords(journal)
    #expect(records.count == returned)
    #expect(records.map(\.sequence).elementsEqual(0..<UInt64(returned)), "sequences have holes")
    #expect(records.allSatisfy { $0.flags.isEmpty && !quarantined($0) })
    #expect(Set(records.map(\.kind)) == Self.gatewayKinds)
    // Every execution the host stored and sent is there once, byte for byte.
    let ids = records.filter { $0.kind == RecordKind.execution.rawValue }.map { load(ts_execution.self, $0).execution_id }
    #expect(ids.count == executions && Set(ids) == Set(1...UInt64(executions)))
    let acks = records.filter { $0.kind == RecordKind.executionAck.rawValue }
    #expect(acks.count == executions && acks.allSatisfy { $0.payload.count == 16 && $0.declaredSize == 16 })
    let requests = records.filter { $0.kind == RecordKind.dealerLock.rawValue }.map { load(ts_request.self, $0) }
    #expect(requests.count == 2400 && Set(requests.map(\.request_id)).count == 2400)
  }

  @Test func hostSurvivesEveryHostileGatewayRecordAndEachInvalidOneIsQuarantined() throws {
    let setup = CHost.Setup()
    let result = try CGatewayHost.launch(setup, ["--requests", "0", "--hostile"])
    #expect(result.status == 0, "host died: \(result.status) \(result.stderr)")
    #expect(hostValues(result.stdout, "hooks_returned") == ["24"])
    #expect(hostValues(result.stdout, "cleanup") == ["done"])
    // NULL, struct_size 0 / 3 / 7 / huge / cut: flagged at the hook (10 of them).
    #expect(result.stderr.contains("stopped: 24 journaled, 10 quarantined, 0 overflowed"), "\(result.stderr)")

    let journal = try setup.openJournal()
    defer { withExtendedLifetime(journal) {} }  // the records point into its mapping
    let records = allRecords(journal)
    try #require(records.count == 24)
    // Valid per the spec: strings that fill their arrays without NUL, and the acks.
    let valid: Set<Int> = [9, 13, 20, 22, 23]
    for (index, record) in records.enumerated() {
      #expect(quarantined(record) == !valid.contains(index), "hostile gateway input \(index) (kind \(record.kind), flags \(record.flags.rawValue))")
    }
    #expect(records[0].flags.contains(.nullRecord))
    #expect(records[2].flags.contains(.shortRecord) && records[2].declaredSize == 3)
    #expect(records[3].flags.contains(.implausibleSize) && records[3].payload.count == 288)
    #expect(records[4].flags.contains(.shortRecord) && records[4].payload[100...].allSatisfy { $0 == 0 })
    #expect(load(ts_request.self, records[5]).price_order.isNaN)  // travels verbatim for the quarantine
    #expect(records[11].flags.contains(.shortRecord) && records[11].declaredSize == 7)
    #expect(records[19].flags.contains(.shortRecord) && records[19].payload[200...].allSatisfy { $0 == 0 })
    let full = load(ts_execution.self, records[20])
    #expect(withUnsafeBytes(of: full.deal_external_id) { $0.allSatisfy { $0 == UInt8(ascii: "D") } })
    let lastAck = try #require(RawRecord(journal: records[23]))
    let event = Normaliser.normalise(lastAck, serverId: 501, sequence: 24, utcOffsetMinutes: 120)
    #expect(event.body == .gateway(.executionAck(ExecutionAck(serverId: .max, executionId: .max))))
  }

  @Test func aServerAndAGatewayInstanceRunSideBySideEachWithItsOwnJournal() throws {
    let setup = CHost.Setup(sizeMB: 16)
    let serverJournal = setup.journalPath + "-server"
    let result = try CGatewayHost.launch(setup, [
      "--threads", "3", "--requests", "400",
      "--server-param", "Collector=127.0.0.1:7400", "--server-param", "SecretFile=\(setup.secretFile)",
      "--server-param", "Journal.Path=\(serverJournal)", "--server-param", "Journal.SizeMB=8",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(hostValues(result.stdout, "server_startup") == ["0"] && hostValues(result.stdout, "startup") == ["0"])
    #expect(result.stderr.contains("started: server 1") && result.stderr.contains("started: gateway 501"))
    let returned = try #require(hostValues(result.stdout, "hooks_returned").first.flatMap { UInt64($0) })

    let gatewayJournal = try setup.openJournal()
    defer { withExtendedLifetime(gatewayJournal) {} }  // the records point into its mapping
    let gateway = allRecords(gatewayJournal)
    #expect(UInt64(gateway.count) == returned)
    #expect(gateway.map(\.sequence).elementsEqual(0..<returned))
    #expect(Set(gateway.map(\.kind)) == Self.gatewayKinds)

    let serverJournalFile = try Journal.open(directory: serverJournal, sizeMB: 8)
    defer { withExtendedLifetime(serverJournalFile) {} }
    let server = allRecords(serverJournalFile)
    #expect(server.count == 1200)
    #expect(server.map(\.sequence).elementsEqual(0..<1200), "the server's sequences are its own")
    #expect(Set(server.map(\.kind)) == [RecordKind.dealAdd.rawValue])
    #expect(Set(server.map { load(ts_deal.self, $0).deal }).count == 1200)
  }

  @Test func aboutNamesTheGatewaysOwnJournalFolder() throws {
    let result = try run(try CGatewayHost.executable.get(), [Artifacts.plugin, "--about-check"])
    #expect(result.status == 0, "\(result.stdout)")
    let parameters = hostValues(result.stdout, "about.param")
    #expect(parameters.map { String($0.prefix { $0 != "=" }) } == PluginParameters.definitions.map(\.name))
    #expect(parameters.contains("Journal.Path=tradetap-journal-gw-<gateway_id>"))
    #expect(parameters.contains("Events=deals,orders,positions,trades,users,requests,executions"))
  }

  @Test func theGatewayJournalDefaultIsNotTheServers() throws {
    let values = ["Collector": "127.0.0.1:7400", "SecretFile": "/dev/null"]
    let server = try PluginParameters.validate(serverId: 501) { values[$0] }.get()
    let gateway = try PluginParameters.validate(gatewayId: 501) { values[$0] }.get()
    #expect(server.journalPath == "tradetap-journal-501" && gateway.journalPath == "tradetap-journal-gw-501")
  }

  @Test func eventsCanLeaveOutTheGatewaysFamilies() throws {
    var setup = CHost.Setup()
    setup.parameters["Events"] = "executions"
    let result = try CGatewayHost.launch(setup, ["--threads", "1", "--requests", "50"])
    #expect(result.status == 0, "\(result.stderr)")
    let journal = try setup.openJournal()
    defer { withExtendedLifetime(journal) {} }  // the records point into its mapping
    let records = allRecords(journal)
    #expect(Set(records.map(\.kind)) == [RecordKind.execution.rawValue, RecordKind.executionAck.rawValue])
    #expect(records.map(\.sequence).elementsEqual(0..<UInt64(records.count)), "filtered hooks consumed sequences")
  }

  @Test func configSetServesAGatewayInstance() throws {
    let setup = CHost.Setup()
    let result = try CGatewayHost.launch(setup, ["--reload", "Events=executions", "--threads", "1", "--requests", "30"])
    #expect(hostValues(result.stdout, "reload") == ["0"], "\(result.stderr)")
    let journal = try setup.openJournal()
    defer { withExtendedLifetime(journal) {} }
    #expect(Set(allRecords(journal).map(\.kind)) == [RecordKind.execution.rawValue, RecordKind.executionAck.rawValue])
  }

  @Test func configSetWithInvalidParametersKeepsTheGatewaysOldOnes() throws {
    let setup = CHost.Setup()
    let result = try CGatewayHost.launch(setup, ["--reload", "Events=fills", "--threads", "1", "--requests", "30"])
    #expect(hostValues(result.stdout, "reload") == ["\(TS_ERR_CONFIG)"])
    #expect(result.stderr.contains("configuration refused"))
    let journal = try setup.openJournal()
    defer { withExtendedLifetime(journal) {} }
    #expect(Set(allRecords(journal).map(\.kind)) == Self.gatewayKinds)
  }

  @Test func startupRefusesAGatewayTableSmallerThanVersionOnes() throws {
    let setup = CHost.Setup()
    let result = try CGatewayHost.launch(setup, [], environment: ["TRADETAP_GATEWAY_API_SIZE": "40"])
    #expect(hostValues(result.stdout, "startup") == ["\(TS_ERR_INVALID_ARGUMENT)"])
    #expect(result.stderr.contains("ts_gateway_api.struct_size 40 is smaller than version 1's 72"), "\(result.stderr)")
  }

  @Test func startupRefusesAGatewayOfAnotherAPIVersion() throws {
    let setup = CHost.Setup()
    let result = try CGatewayHost.launch(setup, [], environment: ["TRADETAP_HOST_API_VERSION": "2"])
    #expect(hostValues(result.stdout, "startup") == ["\(TS_ERR_VERSION)"])
    #expect(result.stderr.contains("host API version 2"), "\(result.stderr)")
  }
}
