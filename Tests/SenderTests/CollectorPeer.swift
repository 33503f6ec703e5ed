import Foundation
import Glibc

/// A real `tradetap collector` process (from $TRADETAP_BUILD_DIR or next to the test
/// binary; missing = failure) on free loopback ports, with its own ledger folder.
final class CollectorPeer {
  let folder: String
  let process = Process()
  private let stdout = Pipe()
  private(set) var port: UInt16 = 0

  static func executable() throws -> String {
    let folder = ProcessInfo.processInfo.environment["TRADETAP_BUILD_DIR"]
      ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    let path = folder + "/tradetap"
    guard FileManager.default.isExecutableFile(atPath: path) else { throw TestFailure("missing \(path): build it with swift build -c release --product tradetap") }
    return path
  }

  /// - Parameters:
  ///   - secrets: the `--secrets` file's content (`<server_id> <secret>` lines).
  ///   - tls: certificate for `--tls-cert/--tls-key`; nil = `--no-tls`.
  ///   - listenPort: 0 = any free port.
  init(folder: String, secrets: String, tls: TestCertificate?, listenPort: UInt16 = 0, heartbeat: String = "1s") throws {
    self.folder = folder
    try secrets.write(toFile: folder + "/secrets", atomically: true, encoding: .utf8)
    chmod(folder + "/secrets", 0o600)
    try "token-for-tests\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
    chmod(folder + "/token", 0o600)
    FileManager.default.createFile(atPath: folder + "/collector.log", contents: nil)
    process.executableURL = URL(fileURLWithPath: try Self.executable())
    var arguments = [
      "collector", "--listen", "127.0.0.1:\(listenPort)", "--http", "127.0.0.1:0",
      "--database", "sqlite:\(folder)/ledger.sqlite", "--secrets", folder + "/secrets",
      "--api-token-file", folder + "/token", "--heartbeat", heartbeat, "--reconcile-every", "0",
    ]
    if let tls { arguments += ["--tls-cert", tls.certPath, "--tls-key", tls.keyPath] } else { arguments.append("--no-tls") }
    process.arguments = arguments
    process.standardOutput = stdout
    process.standardError = FileHandle(forWritingAtPath: folder + "/collector.log") ?? FileHandle.nullDevice
    try process.run()
    var line: [UInt8] = []
    let handle = stdout.fileHandleForReading
    while true {
      guard let byte = handle.readData(ofLength: 1).first else {
        throw TestFailure("collector exited: \(String(decoding: line, as: UTF8.self)) \((try? String(contentsOfFile: folder + "/collector.log", encoding: .utf8)) ?? "")")
      }
      if byte == UInt8(ascii: "\n") { break }
      line.append(byte)
    }
    // listening protocol=127.0.0.1:PORT http=127.0.0.1:PORT
    let text = String(decoding: line, as: UTF8.self)
    guard text.hasPrefix("listening "), let field = text.split(separator: " ").dropFirst().first,
      let port = field.split(separator: ":").last.flatMap({ UInt16($0) })
    else { throw TestFailure("unexpected collector output: \(text)") }
    self.port = port
  }

  deinit { stop(signal: SIGKILL) }

  func stop(signal: Int32) {
    if process.isRunning { kill(process.processIdentifier, signal) }
    process.waitUntilExit()
  }

  /// One integer from the ledger (sqlite3 command line; WAL readers do not block the writer).
  func count(_ sql: String) throws -> Int {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = [folder + "/ledger.sqlite", sql]
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
  }
}
