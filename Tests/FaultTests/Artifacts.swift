import Foundation
import Glibc

/// Built artifacts and the repository, found the way every integration suite finds
/// them: `$TRADETAP_BUILD_DIR`, else the folder of the running test binary. A
/// missing artifact is a failure, never a skip.
enum Artifacts {
  struct Missing: Error, CustomStringConvertible {
    let path: String
    var description: String { "missing artifact \(path) (swift build -c release first)" }
  }

  static var buildDirectory: String {
    ProcessInfo.processInfo.environment["TRADETAP_BUILD_DIR"]
      ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
  }

  static func path(_ name: String) throws -> String {
    let path = buildDirectory + "/" + name
    guard FileManager.default.fileExists(atPath: path) else { throw Missing(path: path) }
    return path
  }

  /// The repository root (Tools/faults lives there), from this source file's path.
  static var repository: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }

  static func temporaryFolder() throws -> String {
    let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    var template = Array("\(base)/tradetap-faulttest.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw Missing(path: "mkdtemp") }
    return String(cString: made)
  }
}

/// Runs one of the `Tools/faults` drivers against the artifacts under test and
/// returns its exit status and output; the output is echoed so that the figures
/// ("figures: ...") land in the test log.
enum FaultDriver {
  static func run(
    _ script: String, _ arguments: [String] = [], tls: Bool = false, environment extra: [String: String] = [:]
  ) throws -> (status: Int32, output: String) {
    _ = try Artifacts.path("tradetap")
    _ = try Artifacts.path("libTradeTapPlugin.so")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [Artifacts.repository + "/Tools/faults/" + script] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["TRADETAP_BUILD_DIR"] = Artifacts.buildDirectory
    environment["TLS"] = tls ? "1" : "0"
    environment.merge(extra) { _, new in new }
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("figures:") || line.hasPrefix("FAIL") {
      print("[\(script)] \(line)")
    }
    return (process.terminationStatus, text)
  }
}
