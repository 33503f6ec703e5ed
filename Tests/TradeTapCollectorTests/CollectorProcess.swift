import Foundation
import Glibc

/// A real `tradetap collector` process, found in $TRADETAP_BUILD_DIR or next to
/// the running test binary. A missing executable is a test failure.
final class CollectorProcess {
  let process = Process()
  private let stdout = Pipe()
  private(set) var protocolPort = 0
  private(set) var httpPort = 0

  static func executable() throws -> String {
    let folder = ProcessInfo.processInfo.environment["TRADETAP_BUILD_DIR"]
      ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    let path = folder + "/tradetap"
    guard FileManager.default.isExecutableFile(atPath: path) else { throw ProcessError.missingExecutable(path) }
    return path
  }

  /// Starts the collector on port 0 and waits for its `listening ...` line.
  /// - Parameter database: the `--database` URL; default `sqlite:FOLDER/ledger.sqlite`.
  init(
    folder: String, extraArguments: [String] = [], tls: Bool = false, listenPort: Int = 0, database: String? = nil
  ) throws {
    process.executableURL = URL(fileURLWithPath: try Self.executable())
    process.arguments = [
      "collector", "--listen", "127.0.0.1:\(listenPort)", "--http", "127.0.0.1:0",
      "--database", database ?? "sqlite:\(folder)/ledger.sqlite", "--secrets", folder + "/secrets",
      "--api-token-file", folder + "/token",
    ] + (tls ? [] : ["--no-tls"]) + extraArguments
    process.standardOutput = stdout
    process.standardError = FileHandle(forWritingAtPath: folder + "/collector.log") ?? FileHandle.nullDevice
    try process.run()
    let line = try readLine()
    // listening protocol=127.0.0.1:PORT http=127.0.0.1:PORT
    let ports = line.split(separator: " ").dropFirst().compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
    guard line.hasPrefix("listening "), ports.count == 2 else { throw ProcessError.unexpectedOutput(line) }
    protocolPort = ports[0]
    httpPort = ports[1]
  }

  /// A loopback port free right now (for a collector that must come back on the same address).
  static func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw ProcessError.unexpectedOutput("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// Writes the secrets (mode 600) and token files the collector reads.
  static func prepare(folder: String, secrets: String, token: String) throws {
    try secrets.write(toFile: folder + "/secrets", atomically: true, encoding: .utf8)
    chmod(folder + "/secrets", 0o600)
    try token.write(toFile: folder + "/token", atomically: true, encoding: .utf8)
    chmod(folder + "/token", 0o600)
    FileManager.default.createFile(atPath: folder + "/collector.log", contents: nil)
  }

  private func readLine() throws -> String {
    var bytes: [UInt8] = []
    let handle = stdout.fileHandleForReading
    while true {
      let chunk = handle.readData(ofLength: 1)
      guard let byte = chunk.first else { throw ProcessError.unexpectedOutput(String(decoding: bytes, as: UTF8.self)) }
      if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
      bytes.append(byte)
    }
  }

  func signal(_ signal: Int32) {
    kill(process.processIdentifier, signal)
  }

  /// Waits for the process to end; returns its exit status (or signal).
  func wait() -> Int32 {
    process.waitUntilExit()
    return process.terminationStatus
  }

  enum ProcessError: Error { case missingExecutable(String), unexpectedOutput(String) }
}
