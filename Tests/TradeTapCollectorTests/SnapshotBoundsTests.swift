import Foundation
import Glibc
import Testing
import TradeTapEvents
import TradeTapWire

/// Finding 4 (issue 10): snapshot answers are bounded, and one server's sweep never
/// waits for another's. A real `tradetap collector` process; the peers are plugins
/// speaking the real protocol (``TestPlugin``), one of them hostile or slow.
@Suite("Reconciliation: snapshot answers are capped, servers sweep independently", .serialized)
struct SnapshotBoundsTests {
  static let secrets = "1 snapshot-bounds-one\n2 snapshot-bounds-two\n"

  /// 512 deal records as a plugin sends them in a snapshot chunk (sequence 0).
  static let records: [Event] = (0..<512).map { i in
    var event = EventFactory.deal(seq: UInt64(i) + 1, serverId: 1)
    event.sequence = 0
    event.kind = .dealSnapshot
    return event
  }

  static func residentKilobytes(_ pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
  }

  /// Answers every snapshot request at once with an empty, final chunk, until `until`.
  static func honestServer(port: Int, serverId: UInt32, secret: String, until: Date) async throws {
    let plugin = try await TestPlugin.connect(port: port)
    _ = try await plugin.handshake(serverId: serverId, secret: secret)
    while Date() < until, let message = try await plugin.receive() {
      if case .snapshotRequest(let request) = message {
        try await plugin.send(.snapshotChunk(SnapshotChunk(
          requestId: request.requestId, chunkIndex: 0, isFinal: true, status: .ok, records: [])))
      }
    }
    await plugin.close()
  }

  /// Answers the first snapshot request with chunks of 512 records and never the
  /// final one: `chunks` of them, `pause` apart; later requests get nothing.
  /// `beforeClose` runs with the connection still open: closing while the collector is
  /// still reading can reset the connection and drop what it has not read yet.
  static func neverFinishingServer(
    port: Int, chunks: Int, pause: Duration, beforeClose: () async -> Void = {}
  ) async throws -> Int {
    let plugin = try await TestPlugin.connect(port: port)
    _ = try await plugin.handshake(serverId: 1, secret: "snapshot-bounds-one")
    var request: SnapshotRequest?
    while request == nil, let message = try await plugin.receive() {
      if case .snapshotRequest(let r) = message { request = r }
    }
    guard let request else { return 0 }
    var sent = 0
    for index in 0..<chunks {
      do {
        try await plugin.send(.snapshotChunk(SnapshotChunk(
          requestId: request.requestId, chunkIndex: UInt32(index), isFinal: false, status: .ok, records: records)))
      } catch {
        break  // the collector closed the connection
      }
      sent += records.count
      if pause > .zero { try await Task.sleep(for: pause) }
    }
    await beforeClose()
    await plugin.close()
    return sent
  }

  @Test func aPeerStreamingChunksWithoutTheFinalOneIsCutOffAtTheCapWithBoundedMemory() async throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)
    let collector = try CollectorProcess(
      folder: folder, extraArguments: ["--reconcile-every", "1s", "--snapshot-max-records", "50000"])
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let pid = collector.process.processIdentifier
    try await Task.sleep(for: .milliseconds(500))
    let before = Self.residentKilobytes(pid)

    // 700k records (1,368 chunks of 512) as fast as the collector reads them. The peer's
    // last send returns once the kernel has the bytes: the collector may still be reading
    // them (a loaded CI machine was a second behind), and a close then resets the
    // connection and drops them (CI once saw the collector cut off before the cap,
    // `leftoverBytesAtEOF`). So the peer waits for the cap's line before it closes.
    var log = ""
    let logPath = folder + "/collector.log"
    let sent = try await Self.neverFinishingServer(port: collector.protocolPort, chunks: 1_368, pause: .zero) {
      for _ in 0..<300 where !log.contains("over its cap") {
        try? await Task.sleep(for: .milliseconds(100))
        log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
      }
    }
    let peak = Self.residentKilobytes(pid)
    let running = collector.process.isRunning
    collector.signal(SIGTERM)
    #expect(collector.wait() == 0)
    print("[snapshot cap] \(sent) records sent without a final chunk; collector RSS \(before) kB before, \(peak) kB after (+\((peak - before) / 1024) MB)")
    #expect(sent >= 700_000, "the peer streamed its 700k records")
    #expect(running)
    #expect(log.contains("over its cap"), "one clear line names the cap: \(log.suffix(2000))")
    #expect(peak - before < 64 * 1024, "RSS growth \(peak - before) kB for 700k records streamed (cap 50k)")
  }

  @Test func oneServerWhoseSnapshotNeverCompletesDoesNotDelayAnothersSweep() async throws {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: Self.secrets, token: Harness.token)
    let collector = try CollectorProcess(folder: folder, extraArguments: ["--reconcile-every", "1s"])
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let port = collector.protocolPort

    // Server 1 connects first and answers its first request with a chunk every 250 ms
    // for 12 s, never the final one (below any cap, never silent for 60 s).
    let slow = Task { try await Self.neverFinishingServer(port: port, chunks: 48, pause: .milliseconds(250)) }
    try await Task.sleep(for: .milliseconds(500))
    let honest = Task {
      try await Self.honestServer(
        port: port, serverId: 2, secret: "snapshot-bounds-two", until: Date().addingTimeInterval(8))
    }
    try await honest.value
    let ledger = folder + "/ledger.sqlite"
    let sweepsOfTwo = Int(try ReconciliationPipelineTests.sqlite(
      ledger, "SELECT count(*) FROM reconciliation_sweeps WHERE server_id = 2")) ?? 0
    let sweepsOfOne = Int(try ReconciliationPipelineTests.sqlite(
      ledger, "SELECT count(*) FROM reconciliation_sweeps WHERE server_id = 1")) ?? 0
    _ = try await slow.value
    collector.signal(SIGTERM)
    #expect(collector.wait() == 0)
    #expect(sweepsOfOne == 0, "server 1's snapshot never completed")
    #expect(sweepsOfTwo >= 3, "server 2 was swept every second meanwhile: \(sweepsOfTwo) sweeps")
  }
}
