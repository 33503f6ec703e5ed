import Foundation
import Glibc
import Synchronization
import Testing
import TradeTapEvents
import TradeTapWire

/// Issue 10, finding 2: a peer holding a server's secret sends heartbeats and
/// duplicate batches as fast as TCP takes them and never reads. Before the fix the
/// collector echoed and acked each one into an unbounded outbound queue (RSS 57 MB
/// → 2.07 GB in 20 s). Now the collector stops reading an unwritable channel,
/// echoes one heartbeat per 100 ms and acks duplicates once per read burst.
@Suite("Hostile input: an authenticated peer that floods and never reads", .serialized)
struct NonReadingPeerTests {
  final class Flood: Sendable {
    let bytes = Atomic<Int>(0)
    let connections = Atomic<Int>(0)
    let done = DispatchSemaphore(value: 0)
  }

  /// About 50 KB of frames: 2,000 heartbeats and 20 copies of one batch (sequence 1
  /// of server 1: the first copy is new, every later one a duplicate).
  static func floodBytes() -> [UInt8] {
    let encoder = FrameEncoder()
    let time = BrokerTime(brokerMilliseconds: 1_764_000_000_000, utcOffsetMinutes: 0)
    let deal = Deal(
      deal: 1, externalId: "", login: 1001, order: 1, positionId: 1, action: .buy, entry: .in, reason: 0,
      symbol: "EURUSD", digits: 5, currencyDigits: 2, time: time, price: ExactDecimal("1.08345")!,
      volumeExt: 10_000_000, contractSize: ExactDecimal("100000")!, profit: ExactDecimal("0.00")!,
      commission: ExactDecimal("0.00")!, storage: ExactDecimal("0.00")!, fee: ExactDecimal("0.00")!, comment: "")
    let event = Event(serverId: 1, sequence: 1, kind: .dealAdd, hookTimestampNanos: 1, utcOffsetMinutes: 0, body: .deal(deal))
    let batch = encoder.encode(.eventBatch(EventBatch(firstSequence: 1, events: [event])))
    var bytes: [UInt8] = []
    for round in 0..<20 {
      for i in 0..<100 { bytes += encoder.encode(.heartbeat(Heartbeat(timestampNanos: UInt64(round * 100 + i)))) }
      bytes += batch
    }
    return bytes
  }

  /// Authenticates as server 1, then writes `floodBytes` without ever reading until
  /// `deadline`, reconnecting whenever the collector closes the connection.
  static func flood(port: Int, secret: String, until deadline: Date, _ flood: Flood) {
    let payload = floodBytes()
    while Date() < deadline {
      guard let peer = try? RawPeer(port: port) else { usleep(100_000); continue }
      guard peer.authenticate(serverId: 1, secret: secret) else {
        usleep(200_000)
        continue
      }
      flood.connections.wrappingAdd(1, ordering: .relaxed)
      var offset = 0
      sending: while Date() < deadline {
        let wrote = payload[offset...].withUnsafeBytes {
          Glibc.send(peer.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
        if wrote > 0 {
          flood.bytes.wrappingAdd(wrote, ordering: .relaxed)
          offset = (offset + wrote) % payload.count
        } else if wrote < 0, errno == EAGAIN || errno == EWOULDBLOCK {
          var poller = pollfd(fd: peer.fd, events: Int16(POLLOUT), revents: 0)
          _ = poll(&poller, 1, 100)
        } else {
          break sending  // closed by the collector: connect again
        }
      }
    }
  }

  @Test func aThirtySecondFloodThatNeverReadsKeepsTheCollectorsMemoryBoundedAndAnotherServerLosesNothing() throws {
    let plugin = try Artifacts.path("libTradeTapPlugin.so")
    let collector = try CollectorUnderTest(heartbeat: "1s")
    defer { collector.stop() }
    let host = try IdleConnectionTests.compileHost(into: collector.folder)
    let secretFile = collector.folder + "/plugin-secret-2"
    try (CollectorUnderTest.secrets[2]! + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
    chmod(secretFile, 0o600)
    let common = [
      plugin, "--server-id", "2", "--kinds", "deals", "--log", collector.folder + "/host.log",
      "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=\(secretFile)", "--param", "TLS=off",
      "--param", "Journal.Path=\(collector.folder)/journal", "--param", "Heartbeat.Seconds=1",
    ]
    usleep(300_000)
    let memoryBefore = collector.residentKilobytes

    // Server 2 streams 5,000 deals (one thread, 4 ms apart: ~20 s) while server 1 floods for 30 s.
    let streaming = Process()
    streaming.executableURL = URL(fileURLWithPath: host)
    streaming.arguments = common + ["--threads", "1", "--events", "5000", "--sleep-us", "4000"]
    streaming.standardOutput = FileHandle.nullDevice
    streaming.standardError = FileHandle.nullDevice
    try streaming.run()
    let flood = Flood()
    let port = collector.port, secret = CollectorUnderTest.secrets[1]!
    let deadline = Date().addingTimeInterval(30)
    Thread.detachNewThread {
      Self.flood(port: port, secret: secret, until: deadline, flood)
      flood.done.signal()
    }
    var peak = memoryBefore
    var samples: [Int] = []
    while Date() < deadline.addingTimeInterval(0.5) {
      let now = collector.residentKilobytes
      samples.append(now)
      peak = max(peak, now)
      usleep(250_000)
    }
    flood.done.wait()
    streaming.waitUntilExit()
    #expect(streaming.terminationStatus == 0)
    // Whatever the stream left unacknowledged goes out at the next start.
    let (again, againOutput) = try IdleConnectionTests.runHost(host, common + ["--threads", "1", "--events", "1", "--sleep-us", "2000000"])
    #expect(again == 0, "\(againOutput)")
    let memoryAfter = collector.residentKilobytes

    let sentMB = Double(flood.bytes.load(ordering: .relaxed)) / 1_048_576
    let growthMB = Double(peak - memoryBefore) / 1024
    let second = try collector.ledgerCount("SELECT count(*) FROM events WHERE server_id = 2")
    print("[hostile] 30 s flood by an authenticated peer that never reads: \(String(format: "%.0f", sentMB)) MB of heartbeats and duplicate batches sent over \(flood.connections.load(ordering: .relaxed)) connection(s); collector RSS \(memoryBefore) kB before, peak \(peak) kB (+\(String(format: "%.1f", growthMB)) MB), \(memoryAfter) kB after; server 2 streaming meanwhile: \(second)/5001 events")
    #expect(flood.bytes.load(ordering: .relaxed) > 1_048_576, "the flood did not get going")
    #expect(growthMB < 64, "RSS grew \(growthMB) MB (samples \(samples))")
    #expect(second == 5001)
    #expect(try collector.ledgerCount("SELECT count(DISTINCT seq) FROM events WHERE server_id = 2") == 5001)
    #expect(try collector.ledgerCount("SELECT max(seq) FROM events WHERE server_id = 2") == 5001)
    #expect(try collector.ledgerCount("SELECT count(*) FROM events WHERE server_id = 1") == 1)
    #expect(collector.isRunning)
  }
}
