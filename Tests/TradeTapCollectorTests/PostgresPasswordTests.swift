import Foundation
import Glibc
import Synchronization
import Testing

/// A PostgreSQL impostor on loopback: answers `N` to the SSLRequest, then asks for
/// the password in clear (or MD5), and keeps every byte it is sent.
final class FakePostgresServer: @unchecked Sendable {
  enum Ask { case cleartext, md5 }
  let port: Int
  private let listener: Int32
  private let received = Mutex<[UInt8]>([])
  private let stopped = Atomic<Bool>(false)

  private init(asking ask: Ask) throws {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    self.listener = listener
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
      }
    }
    guard bound else { throw CollectorProcess.ProcessError.unexpectedOutput("fake PostgreSQL: bind failed") }
    port = Int(UInt16(bigEndian: address.sin_port))
  }

  /// Starts answering connections (on its own thread, until ``stop()``).
  static func start(asking ask: Ask) throws -> FakePostgresServer {
    let server = try FakePostgresServer(asking: ask)
    Thread { server.serve(ask) }.start()
    return server
  }

  /// Everything every client sent.
  var bytes: [UInt8] { received.withLock { $0 } }

  func stop() {
    stopped.store(true, ordering: .relaxed)
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
  }

  private func serve(_ ask: Ask) {
    while !stopped.load(ordering: .relaxed) {
      var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 100) > 0 else { continue }
      let client = accept(listener, nil, nil)
      guard client >= 0 else { continue }
      defer { close(client) }
      // SSLRequest (8 bytes: length 8, code 80877103): "no TLS here".
      guard var message = read(client, count: 8, seconds: 3), message.count == 8 else { continue }
      if Array(message[4..<8]) == [0x04, 0xd2, 0x16, 0x2f] {
        _ = send(client, [UInt8(ascii: "N")])
        guard let header = read(client, count: 4, seconds: 3) else { continue }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length >= 8, length < 10_000, read(client, count: length - 4, seconds: 3) != nil else { continue }
      } else {
        let length = Int(message[0]) << 24 | Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])
        guard length >= 8, length < 10_000, length == 8 || read(client, count: length - 8, seconds: 3) != nil else { continue }
      }
      // AuthenticationCleartextPassword ('R', 8, 3) or AuthenticationMD5Password ('R', 12, 5, salt).
      message = ask == .cleartext ? [0x52, 0, 0, 0, 8, 0, 0, 0, 3] : [0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]
      _ = send(client, message)
      _ = read(client, count: 4096, seconds: 2, untilClosed: true)
    }
  }

  private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
  }

  /// Reads exactly `count` bytes (or, `untilClosed`, whatever comes until EOF or the
  /// deadline), recording them.
  private func read(_ fd: Int32, count: Int, seconds: Double, untilClosed: Bool = false) -> [UInt8]? {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = Date().addingTimeInterval(seconds)
    while bytes.count < count, Date() < deadline {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 50) > 0 else { continue }
      let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - bytes.count), 0) }
      if got <= 0 { break }
      bytes += buffer[0..<got]
      received.withLock { $0 += buffer[0..<got] }
    }
    return bytes.count == count || untilClosed ? bytes : nil
  }
}

/// Issue 10, finding 7: with the default `sslmode=prefer`, a server that declined TLS
/// and asked for the password in clear received it; and the password could only be
/// given in the URL, where `ps` shows it.
@Suite("PostgreSQL password: never in clear unless sslmode=disable; from a file or PGPASSWORD", .serialized)
struct PostgresPasswordTests {
  static let password = "pw-that-must-stay-home-4711"

  /// Runs `tradetap collector` against `database` until it exits (it should) or 30 s.
  static func collectorExit(database: String, arguments: [String] = []) throws -> (Int32, String) {
    let folder = try Harness.folder()
    try CollectorProcess.prepare(folder: folder, secrets: "1 a-secret-of-twenty-bytes\n", token: Harness.token)
    return try PipelineTests.tradetap([
      "collector", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--no-tls", "--database", database,
      "--secrets", folder + "/secrets", "--api-token-file", folder + "/token",
    ] + arguments)
  }

  static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
    let n = Array(needle.utf8)
    guard haystack.count >= n.count else { return false }
    return (0...(haystack.count - n.count)).contains { Array(haystack[$0..<$0 + n.count]) == n }
  }

  @Test(arguments: [
    ("", FakePostgresServer.Ask.cleartext), ("?sslmode=prefer", .md5), ("?sslmode=require", .cleartext),
  ])
  func aServerThatDeclinesTLSNeverReceivesThePassword(query: String, ask: FakePostgresServer.Ask) throws {
    let fake = try FakePostgresServer.start(asking: ask)
    defer { fake.stop() }
    let (status, output) = try Self.collectorExit(
      database: "postgres://tradetap:\(Self.password)@127.0.0.1:\(fake.port)/ledger\(query)")
    #expect(status != 0)
    #expect(output.contains("the server does not offer TLS"), "\(output)")
    #expect(output.contains("sslmode=disable"), "\(output)")
    #expect(!output.contains(Self.password))
    #expect(!Self.contains(fake.bytes, Self.password), "the impostor received the password")
    #expect(fake.bytes.count == 8, "more than the SSLRequest was sent: \(fake.bytes.count) bytes")  // no startup, no password message
  }

  /// The control: the impostor does catch a password the operator chose to send in
  /// clear (so the test above can fail), and only then.
  @Test func sslmodeDisableIsTheExplicitWayToSendItWithoutTLS() throws {
    let fake = try FakePostgresServer.start(asking: .cleartext)
    defer { fake.stop() }
    let (status, _) = try Self.collectorExit(
      database: "postgres://tradetap:\(Self.password)@127.0.0.1:\(fake.port)/ledger?sslmode=disable")
    #expect(status != 0)  // the impostor never completes the login
    #expect(Self.contains(fake.bytes, Self.password))
  }

  /// Runs `body` with the URL of a fresh database of the test cluster, without its
  /// password, and the password; drops the database after.
  static func withDatabaseWithoutPassword(_ body: (_ url: String, _ password: String) throws -> Void) async throws {
    let database = try await TestPostgres.createDatabase()
    let result = Result {
      let components = try #require(URLComponents(string: database.url))
      let password = try #require(components.password)
      var bare = components
      bare.password = nil
      let url = try #require(bare.string)
      #expect(!url.contains(password))
      try body(url, password)
    }
    try await TestPostgres.dropDatabase(database)
    try result.get()
  }

  @Test func thePasswordComesFromAPrivateFileSoTheURLNeedNotCarryIt() async throws {
    try await Self.withDatabaseWithoutPassword { url, password in
      let folder = try Harness.folder()
      try CollectorProcess.prepare(folder: folder, secrets: "1 a-secret-of-twenty-bytes\n", token: Harness.token)
      try (password + "\n").write(toFile: folder + "/pgpass", atomically: true, encoding: .utf8)

      chmod(folder + "/pgpass", 0o644)
      let (refused, refusal) = try Self.collectorExit(database: url, arguments: ["--database-password-file", folder + "/pgpass"])
      #expect(refused != 0)
      #expect(refusal.contains("database password file \(folder)/pgpass: mode 644"), "\(refusal)")

      chmod(folder + "/pgpass", 0o600)
      let collector = try CollectorProcess(
        folder: folder, extraArguments: ["--database-password-file", folder + "/pgpass"], database: url)
      usleep(300_000)
      collector.signal(SIGTERM)
      #expect(collector.wait() == 0)
    }
  }

  @Test func thePasswordComesFromPGPASSWORD() async throws {
    try await Self.withDatabaseWithoutPassword { url, password in
      let folder = try Harness.folder()
      try CollectorProcess.prepare(folder: folder, secrets: "1 a-secret-of-twenty-bytes\n", token: Harness.token)
      let process = Process()
      process.executableURL = URL(fileURLWithPath: try CollectorProcess.executable())
      process.arguments = [
        "collector", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--no-tls", "--database", url,
        "--secrets", folder + "/secrets", "--api-token-file", folder + "/token",
      ]
      var environment = ProcessInfo.processInfo.environment
      environment["PGPASSWORD"] = password
      process.environment = environment
      let stdout = Pipe()
      process.standardOutput = stdout
      process.standardError = FileHandle.nullDevice
      try process.run()
      let first = String(decoding: stdout.fileHandleForReading.readData(ofLength: 9), as: UTF8.self)
      usleep(300_000)  // the SIGTERM handler is installed just after the line
      kill(process.processIdentifier, SIGTERM)
      process.waitUntilExit()
      #expect(first == "listening")
      #expect(process.terminationStatus == 0)
    }
  }
}
