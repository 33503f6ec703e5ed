import Foundation
import Synchronization

/// A `tradetap` subcommand running as its own process (the demo runs the real
/// collector and the real simulated trade server, not in-process copies), with
/// its stdout read line by line and its stderr kept in a log file.
final class ChildProcess: Sendable {
  let name: String
  private let process: Process
  private let lines = LineBuffer()

  init(name: String, arguments: [String], logFile: String) throws {
    self.name = name
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    FileManager.default.createFile(atPath: logFile, contents: nil)
    process.standardError = FileHandle(forWritingAtPath: logFile)
    self.process = process
    let lines = self.lines
    output.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      guard !data.isEmpty else { handle.readabilityHandler = nil; return }
      let text = String(decoding: data, as: UTF8.self)
      lines.storage.withLock { buffer in
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) { buffer.append(String(line)) }
      }
    }
    do { try process.run() } catch { throw DemoFailure("cannot start tradetap \(name): \(error)") }
  }

  /// Lines printed so far that were not yet taken.
  func takeLines() -> [String] { lines.storage.withLock { let taken = $0; $0.removeAll(); return taken } }

  var isRunning: Bool { process.isRunning }
  var exitStatus: Int32 { process.terminationStatus }

  /// Waits for a line with the given prefix, or fails when the process exits first.
  func waitForLine(prefix: String, timeout: Duration, log: String) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    var seen: [String] = []
    while ContinuousClock.now < deadline {
      seen += takeLines()
      if let line = seen.first(where: { $0.hasPrefix(prefix) }) { return line }
      if !process.isRunning {
        throw DemoFailure("tradetap \(name) exited with status \(process.terminationStatus) before it was ready; see \(log)")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
    throw DemoFailure("tradetap \(name) was not ready after \(timeout); see \(log)")
  }

  func waitForExit() async {
    while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
  }

  /// Sends SIGINT (`tradetap sim` ends its run or its linger and unloads its plugins).
  func interrupt() {
    if process.isRunning { process.interrupt() }
  }

  /// Waits for the process to exit, at most `timeout`; true when it has.
  func waitForExit(timeout: Duration) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    return !process.isRunning
  }

  /// SIGTERM (graceful shutdown), then SIGKILL if it has not exited in time.
  func terminate(grace: Duration = .seconds(10)) async {
    guard process.isRunning else { return }
    process.terminate()
    let deadline = ContinuousClock.now + grace
    while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    await waitForExit()
  }
}

/// Lines a child printed, shared between the pipe's reader and the demo.
final class LineBuffer: Sendable {
  let storage = Mutex<[String]>([])
}
