import Foundation
import Testing
import TradeServerAPI
import TradeTapJournal

/// The plain-C host (Tools/c-host/host.c), compiled once per test process with `cc`
/// against the header alone.
enum CHost {
  static let executable: Result<String, CompileFailure> = {
    let output = NSTemporaryDirectory() + "tradetap-c-host-\(getpid())"
    do {
      let result = try run("/usr/bin/env", [
        "cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", Artifacts.header,
        Artifacts.cHostFolder + "/host.c", "-o", output, "-ldl", "-lm",
      ])
      return result.status == 0 ? .success(output) : .failure(CompileFailure(message: result.stderr))
    } catch {
      return .failure(CompileFailure(message: "\(error)"))
    }
  }()

  struct CompileFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { "cc host.c failed: \(message)" }
  }

  /// A fresh journal folder and secret file, and the parameters that point at them.
  struct Setup {
    let journalPath: String
    let secretFile: String
    var parameters: [String: String]

    init(name: String = #function, sizeMB: Int = 8) {
      let base = NSTemporaryDirectory() + "tradetap-plugin-tests-\(getpid())-\(name.filter { $0.isLetter })"
      try? FileManager.default.removeItem(atPath: base)
      try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
      journalPath = base + "/journal"
      secretFile = base + "/secret"
      FileManager.default.createFile(
        atPath: secretFile, contents: Data("s3cret-for-the-plugin-tests".utf8), attributes: [.posixPermissions: 0o600])
      parameters = [
        "Collector": "127.0.0.1:7400", "SecretFile": secretFile, "Journal.Path": journalPath,
        "Journal.SizeMB": "\(sizeMB)",
      ]
    }

    func arguments(_ extra: [String] = []) -> [String] {
      var list = [Artifacts.plugin]
      for (name, value) in parameters.sorted(by: { $0.key < $1.key }) { list += ["--param", "\(name)=\(value)"] }
      return list + extra
    }

    func openJournal() throws -> Journal {
      try Journal.open(directory: journalPath, sizeMB: Int(parameters["Journal.SizeMB"] ?? "8") ?? 8)
    }
  }

  static func launch(_ setup: Setup, _ extra: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let host = try executable.get()
    return try run(host, setup.arguments(extra), environment: environment)
  }
}

/// Every record of a journal, read in order.
func allRecords(_ journal: Journal) -> [JournalRecord] {
  var records: [JournalRecord] = []
  while let record = journal.nextRecord() { records.append(record) }
  return records
}

/// `key=value` lines printed by the host.
func hostValues(_ stdout: String, _ key: String) -> [String] {
  stdout.split(separator: "\n").compactMap { line in
    line.hasPrefix(key + "=") ? String(line.dropFirst(key.count + 1)) : nil
  }
}

/// A C record loaded from a journal payload (the payload is not necessarily aligned).
func load<T>(_ type: T.Type, _ record: JournalRecord, offset: Int = 0) -> T {
  return record.payload.baseAddress!.advanced(by: offset).loadUnaligned(as: T.self)
}
