import Foundation
import Glibc

/// A real TLS peer for the tests: `openssl s_server` in `-rev` mode (answers each
/// line reversed) on a free loopback port, with a throwaway certificate.
final class OpenSSLServer {
  let process = Process()
  let port: UInt16
  private let output = Pipe()

  /// - Parameter versionFlag: `-tls1_3` or `-tls1_2` (the only version it speaks).
  init(certificate: TestCertificate, versionFlag: String) throws {
    // stdbuf: s_server's stdout is block-buffered on a pipe; the ACCEPT line must arrive now.
    process.executableURL = URL(fileURLWithPath: "/usr/bin/stdbuf")
    process.arguments = [
      "-oL", "/usr/bin/openssl", "s_server", versionFlag, "-accept", "127.0.0.1:0", "-cert", certificate.certPath,
      "-key", certificate.keyPath, "-rev", "-naccept", "4",
    ]
    process.standardOutput = output
    process.standardError = output
    try process.run()
    var text = ""
    let handle = output.fileHandleForReading
    while !text.contains("ACCEPT") || !text.hasSuffix("\n") {
      let chunk = handle.availableData
      if chunk.isEmpty { throw TestFailure("openssl s_server exited: \(text)") }
      text += String(decoding: chunk, as: UTF8.self)
    }
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT") }),
      let port = UInt16(line.split(separator: ":").last ?? "")
    else { throw TestFailure("no port in s_server output: \(text)") }
    self.port = port
  }

  deinit { kill() }

  /// SIGKILL: s_server does not exit on SIGTERM while it waits in accept.
  func kill() {
    if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }
}

/// A self-signed certificate for `collector.test` and 127.0.0.1, made with the
/// openssl command line in a fresh temporary folder.
struct TestCertificate {
  let folder: String
  var certPath: String { folder + "/cert.pem" }
  var keyPath: String { folder + "/key.pem" }

  init(commonName: String = "collector.test") throws {
    folder = try makeTemporaryFolder()
    try run(
      "/usr/bin/openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem", "-days", "2",
        "-subj", "/CN=\(commonName)", "-addext", "subjectAltName=DNS:\(commonName),IP:127.0.0.1",
      ])
  }
}

struct TestFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

func makeTemporaryFolder() throws -> String {
  let path = NSTemporaryDirectory() + "sender-tests-" + UUID().uuidString
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

func run(_ executable: String, _ arguments: [String]) throws {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  process.standardOutput = FileHandle.nullDevice
  process.standardError = FileHandle.nullDevice
  try process.run()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw TestFailure("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
  }
}
