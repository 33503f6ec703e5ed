import Foundation
import Glibc
import Testing

/// Issue 10, finding 5: the HTTP listener had no idle timeout and no connection cap,
/// and shares the open-file table with the plugin port. Under `ulimit -n 300`, 320
/// idle HTTP sockets made a plugin's login time out and HTTP stop answering.
@Suite("Hostile input: HTTP connections are capped and timed out", .serialized)
struct HTTPConnectionLimitTests {
  static let token = "token-fault-tests"

  /// One request on a fresh connection (`Connection: close`); the status code, or
  /// nil when the collector closed without an answer.
  static func status(port: Int, path: String = "/healthz", token: String? = Self.token) throws -> Int? {
    let peer = try RawPeer(port: port)
    peer.send(Array(request(path, token: token, close: true).utf8))
    return statusCode(peer.readUntilClosed(seconds: 5).bytes)
  }

  static func request(_ path: String, token: String? = Self.token, close: Bool = false) -> String {
    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "")
      + (close ? "Connection: close\r\n" : "") + "\r\n"
  }

  static func statusCode(_ bytes: [UInt8]) -> Int? {
    let head = String(decoding: bytes.prefix(12), as: UTF8.self)  // HTTP/1.1 503
    guard head.hasPrefix("HTTP/1.1 ") else { return nil }
    return Int(head.dropFirst(9).prefix(3))
  }

  /// The figure in the collector's start line (`tradetap.http_max_connections=N`).
  static func logged(_ key: String, in log: String) -> Int? {
    guard let range = log.range(of: key + "=") else { return nil }
    return Int(log[range.upperBound...].prefix { $0.isNumber })
  }

  @Test func idleSocketsPastTheCapAreRefusedAndAPluginStillLogsInAndDelivers() throws {
    let plugin = try Artifacts.path("libTradeTapPlugin.so")
    // Soft and hard limit 300: the soft one cannot be raised, so the cap is derived
    // from 300: (300 - 64 reserved) / 2 = 118. Long timeouts: the cap alone must hold.
    let collector = try CollectorUnderTest(
      heartbeat: "1s", extraArguments: ["--http-request-timeout", "120s", "--http-idle-timeout", "120s"],
      launcher: ["/usr/bin/prlimit", "--nofile=300:300", "--"])
    defer { collector.stop() }
    let cap = try #require(Self.logged("tradetap.http_max_connections", in: collector.log), "\(collector.log)")
    #expect(cap == 118)
    #expect(collector.log.contains("tradetap.open_files=300"))

    var idlers = try (0..<320).map { _ in try RawPeer(port: collector.httpPort) }
    // The collector accepts and closes the sockets past the cap as fast as it can; a
    // loaded machine may need more than one look (CI once saw 201 of 202 after 0.5 s).
    var refused = 0, answered503 = 0
    var closed = Array(repeating: false, count: idlers.count)
    let deadline = Date().addingTimeInterval(10)
    repeat {
      usleep(250_000)
      for (index, idler) in idlers.enumerated() where !closed[index] {
        let answer = idler.readUntilClosed(seconds: 0.001)
        if answer.closed { closed[index] = true; refused += 1 }
        if Self.statusCode(answer.bytes) == 503 { answered503 += 1 }
      }
    } while refused < 320 - cap && Date() < deadline
    let whileFull = try Self.status(port: collector.httpPort)

    // A plugin logs in and delivers while the cap is full (the same file table).
    let host = try IdleConnectionTests.compileHost(into: collector.folder)
    let secretFile = collector.folder + "/plugin-secret"
    try (CollectorUnderTest.secrets[1]! + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
    chmod(secretFile, 0o600)
    let common = [
      plugin, "--server-id", "1", "--kinds", "deals", "--log", collector.folder + "/host.log",
      "--param", "Collector=127.0.0.1:\(collector.port)", "--param", "SecretFile=\(secretFile)", "--param", "TLS=off",
      "--param", "Journal.Path=\(collector.folder)/journal", "--param", "Heartbeat.Seconds=1",
    ]
    let (first, firstOutput) = try IdleConnectionTests.runHost(host, common + ["--threads", "2", "--events", "1000", "--sleep-us", "250"])
    #expect(first == 0, "\(firstOutput)")
    let (second, secondOutput) = try IdleConnectionTests.runHost(host, common + ["--threads", "1", "--events", "1", "--sleep-us", "2000000"])
    #expect(second == 0, "\(secondOutput)")
    let delivered = try collector.ledgerCount("SELECT count(DISTINCT seq) FROM events")
    let hostLog = (try? String(contentsOfFile: collector.folder + "/host.log", encoding: .utf8)) ?? ""

    // Once the idle sockets are gone, HTTP answers again.
    idlers.removeAll()
    var afterwards: Int? = nil
    for _ in 0..<50 {
      afterwards = try Self.status(port: collector.httpPort)
      if afterwards == 200 { break }
      usleep(100_000)
    }
    print("[hostile] 320 idle HTTP sockets under ulimit -n 300: HTTP cap \(cap); \(refused) closed at once (\(answered503) with 503), a new request meanwhile got \(whileFull.map(String.init) ?? "no answer"); plugin delivered \(delivered)/2001 while they were held; after they closed: \(afterwards.map(String.init) ?? "no answer")")
    // Every socket past the cap is closed, and never one within it. Two CI runs on a
    // fresh machine saw 201 of 202 closed even after 10 s of looking (202 here, every
    // run): one connect the kernel completed but the collector had not yet accepted is
    // neither answered nor held, so one short is tolerated; one too many never is.
    #expect(refused <= 320 - cap && refused >= 320 - cap - 1, "\(refused) closed, cap \(cap)")
    #expect(answered503 >= refused - 5)  // a reset may beat the answer now and then
    #expect(whileFull == 503 || whileFull == nil)
    #expect(delivered == 2001)
    #expect(hostLog.contains("[warn] TradeTap: connected to collector 127.0.0.1:\(collector.port) (plaintext)"), "\(hostLog.suffix(1500))")
    #expect(afterwards == 200)
    #expect(collector.isRunning)
    #expect(collector.logLines(containing: "HTTP connection refused: \(cap) open") >= 1)
    #expect(collector.logLines(containing: "HTTP connection refused") <= 2)  // one line per 10 s, not one per socket
  }

  @Test func silentSlowAndIdleConnectionsAreClosedAfterTheirTimeouts() throws {
    let collector = try CollectorUnderTest(extraArguments: ["--http-request-timeout", "1s", "--http-idle-timeout", "2s"])
    defer { collector.stop() }
    let started = Date()
    let silent = try RawPeer(port: collector.httpPort)
    let slow = try RawPeer(port: collector.httpPort)
    let idle = try RawPeer(port: collector.httpPort)
    let stream = try RawPeer(port: collector.httpPort)
    slow.send(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
    idle.send(Array(Self.request("/healthz").utf8))
    stream.send(Array(Self.request("/v1/changes/stream").utf8))

    // The slow client drips a header byte every 200 ms: dripping is not progress.
    var slowClosedAfter: Double? = nil
    var silentClosedAfter: Double? = nil
    var idleAnswer: [UInt8] = [], idleClosedAfter: Double? = nil
    var streamBytes: [UInt8] = []
    while Date().timeIntervalSince(started) < 6 {
      if slowClosedAfter == nil {
        slow.send(Array("X".utf8))
        if slow.readUntilClosed(seconds: 0.05).closed { slowClosedAfter = Date().timeIntervalSince(started) }
      }
      if silentClosedAfter == nil, silent.readUntilClosed(seconds: 0.05).closed {
        silentClosedAfter = Date().timeIntervalSince(started)
      }
      if idleClosedAfter == nil {
        let read = idle.readUntilClosed(seconds: 0.05)
        idleAnswer += read.bytes
        if read.closed { idleClosedAfter = Date().timeIntervalSince(started) }
      }
      let read = stream.readUntilClosed(seconds: 0.05)
      streamBytes += read.bytes
      #expect(!read.closed, "the change stream was cut after \(Date().timeIntervalSince(started)) s")
      if read.closed { break }
    }
    let streamText = String(decoding: streamBytes, as: UTF8.self)
    print("[hostile] HTTP timeouts (request 1 s, idle 2 s): silent closed after \(silentClosedAfter ?? -1) s, header dripped every 200 ms closed after \(slowClosedAfter ?? -1) s, idle keep-alive closed after \(idleClosedAfter ?? -1) s; change stream open for 6 s")
    #expect((0.8...2.5).contains(silentClosedAfter ?? -1))
    #expect((0.8...2.5).contains(slowClosedAfter ?? -1))
    #expect(Self.statusCode(idleAnswer) == 200)
    #expect((1.8...3.5).contains(idleClosedAfter ?? -1))  // 2 s after its answer
    #expect(streamText.hasPrefix("HTTP/1.1 200") && streamText.contains("retry: 1000"), "\(streamText)")
  }

  @Test func changeStreamsCountAgainstTheCap() throws {
    let collector = try CollectorUnderTest(extraArguments: ["--http-max-connections", "2", "--http-idle-timeout", "1s"])
    defer { collector.stop() }
    var streams = try (0..<2).map { _ in try RawPeer(port: collector.httpPort) }
    for stream in streams { stream.send(Array(Self.request("/v1/changes/stream").utf8)) }
    for stream in streams { _ = stream.readUntilClosed(seconds: 0.3) }
    usleep(1_500_000)  // past the idle timeout: streams are answered, never idle
    let third = try Self.status(port: collector.httpPort)
    for stream in streams { #expect(!stream.readUntilClosed(seconds: 0.05).closed) }
    streams.removeFirst()
    var afterOneLeft: Int? = nil
    for _ in 0..<30 {
      afterOneLeft = try Self.status(port: collector.httpPort)
      if afterOneLeft == 200 { break }
      usleep(100_000)
    }
    #expect(third == 503 || third == nil)
    #expect(afterOneLeft == 200)
  }
}
