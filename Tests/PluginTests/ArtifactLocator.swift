import Foundation

/// Where the tests find built artifacts and the repository's sources.
enum Artifacts {
  /// `$TRADETAP_BUILD_DIR`, else the folder of the running test binary.
  static var buildDirectory: String {
    if let explicit = ProcessInfo.processInfo.environment["TRADETAP_BUILD_DIR"], !explicit.isEmpty {
      return explicit
    }
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var folder = (executable as NSString).deletingLastPathComponent
    // The test binary lives in <build>/TradeTapPackageTests.xctest (a file) or inside a bundle folder.
    while !folder.isEmpty, folder != "/",
      !FileManager.default.fileExists(atPath: folder + "/libTradeTapPlugin.so"),
      folder.hasSuffix(".xctest") || folder.contains(".xctest/")
    {
      folder = (folder as NSString).deletingLastPathComponent
    }
    return folder
  }

  static var plugin: String { buildDirectory + "/libTradeTapPlugin.so" }

  /// The repository root (this file is Tests/PluginTests/ArtifactLocator.swift).
  static var repository: String {
    ((#filePath as NSString).deletingLastPathComponent as NSString)
      .deletingLastPathComponent.replacingOccurrences(of: "/Tests", with: "")
  }

  static var header: String { repository + "/CInterop/TradeServerAPI/include" }
  static var cHostFolder: String { repository + "/Tools/c-host" }
  static var testsFolder: String { repository + "/Tests/PluginTests" }
}

/// Runs a program to completion; returns its exit status and output.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  var env = ProcessInfo.processInfo.environment
  for (key, value) in environment { env[key] = value }
  process.environment = env
  let out = Pipe(), err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  // Read both pipes to the end before waiting: a full pipe would block the child.
  let errorReader = Thread.detachedRead(err.fileHandleForReading)
  let stdout = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let stderr = errorReader.wait()
  return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// Reads a file handle to EOF on its own thread.
final class DetachedRead: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private var data = Data()
  init(_ handle: FileHandle) {
    Thread.detachNewThread { [self] in
      data = handle.readDataToEndOfFile()
      done.signal()
    }
  }
  func wait() -> Data {
    done.wait()
    return data
  }
}

extension Thread {
  static func detachedRead(_ handle: FileHandle) -> DetachedRead { DetachedRead(handle) }
}
