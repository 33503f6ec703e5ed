import Foundation
import Glibc

/// A real `tradetap collector` process on loopback (plaintext, port 0), with two
/// servers' secrets, its log in `folder/collector.log` and its ledger in
/// `folder/ledger.sqlite`.
final class CollectorUnderTest {
  static let secrets = [UInt32(1): "secret-of-server-one", 2: "secret-of-server-two"]
  let folder: String
  let process = Process()
  private let stdout = Pipe()
  private(set) var port = 0
  private(set) var httpPort = 0

  /// - Parameter launcher: a command the collector runs under (`prlimit --nofile=300:300 --`).
  init(heartbeat: String = "1s", extraArguments: [String] = [], launcher: [String] = []) throws {
    folder = try Artifacts.temporaryFolder()
    let secretsText = Self.secrets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
    try secretsText.write(toFile: folder + "/secrets", atomically: true, encoding: .utf8)
    chmod(folder + "/secrets", 0o600)
    try "token-fault-tests\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
    chmod(folder + "/token", 0o600)
    FileManager.default.createFile(atPath: folder + "/collector.log", contents: nil)
    let tradetap = try Artifacts.path("tradetap")
    process.executableURL = URL(fileURLWithPath: launcher.first ?? tradetap)
    process.arguments = launcher.dropFirst() + (launcher.isEmpty ? [] : [tradetap]) + [
      "collector", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--no-tls",
      "--database", "sqlite:\(folder)/ledger.sqlite", "--secrets", folder + "/secrets",
      "--api-token-file", folder + "/token", "--heartbeat", heartbeat,
    ] + extraArguments
    process.standardOutput = stdout
    process.standardError = FileHandle(forWritingAtPath: folder + "/collector.log")
    try process.run()
    var line: [UInt8] = []
    while true {
      guard let byte = stdout.fileHandleForReading.readData(ofLength: 1).first else { break }
      if byte == UInt8(ascii: "\n") { break }
      line.append(byte)
    }
    // listening protocol=127.0.0.1:PORT http=127.0.0.1:PORT
    let text = String(decoding: line, as: UTF8.self)
    guard text.hasPrefix("listening "),
      let field = text.split(separator: " ").dropFirst().first,
      let port = field.split(separator: ":").last.flatMap({ Int($0) })
    else { throw Artifacts.Missing(path: "collector did not start: \(text)") }
    self.port = port
    httpPort = text.split(separator: " ").last.flatMap { $0.split(separator: ":").last.flatMap { Int($0) } } ?? 0
  }

  var log: String { (try? String(contentsOfFile: folder + "/collector.log", encoding: .utf8)) ?? "" }

  /// Lines of the log that contain `text`.
  func logLines(containing text: String) -> Int {
    log.split(separator: "\n").filter { $0.contains(text) }.count
  }

  /// The collector's resident memory (kB), from /proc.
  var residentKilobytes: Int {
    let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
  }

  var isRunning: Bool { process.isRunning }

  /// One integer from the ledger, through the sqlite3 tool.
  func ledgerCount(_ sql: String) throws -> Int {
    let tool = Process()
    tool.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    tool.arguments = ["-cmd", ".timeout 5000", folder + "/ledger.sqlite", sql]
    let output = Pipe()
    tool.standardOutput = output
    try tool.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    tool.waitUntilExit()
    return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
  }

  func stop() {
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
  }
}
