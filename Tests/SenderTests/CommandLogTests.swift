import Foundation
import Testing
import TradeTapPluginCore
import TradeTapWire

/// The plugin's durable command record (docs/commands.md): what it holds survives a
/// reopen, a torn last record is cut off, and anything that is not its record is refused.
@Suite("Command record")
struct CommandLogTests {
  static func path() -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tt-commands-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder + "/journal.commands"
  }

  @Test func intentsAndResultsSurviveAReopen() throws {
    let path = Self.path()
    let (log, problem) = CommandLog.open(path: path)
    let record = try #require(log, "\(problem ?? "")")
    #expect(record.recordIntent(commandId: 41, brokerMilliseconds: 1_700_000_000_123) == nil)
    #expect(record.recordIntent(commandId: 42, brokerMilliseconds: 1_700_000_000_456) == nil)
    let done = CommandLog.Result(status: .done, hostResult: 0, deal: 90_001, login: 5001)
    #expect(record.recordResult(commandId: 41, done) == nil)
    let refused = CommandLog.Result(status: .rejected, hostResult: 9, deal: 0, login: 0)
    #expect(record.recordResult(commandId: 43, refused) == nil)

    let reopened = try #require(CommandLog.open(path: path).0)
    #expect(reopened.intents[41]?.brokerMilliseconds == 1_700_000_000_123)
    #expect(reopened.intents[42]?.brokerMilliseconds == 1_700_000_000_456)
    #expect(reopened.results[41] == done)
    #expect(reopened.results[42] == nil, "an intent without a result: resolved from the platform, never re-run blindly")
    #expect(reopened.results[43] == refused)
    #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 4 * CommandLog.recordSize)
  }

  @Test(arguments: [1, 30, 63])
  func aTornLastRecordIsCutOffAndTheRestKept(tornBytes: Int) throws {
    let path = Self.path()
    let record = try #require(CommandLog.open(path: path).0)
    #expect(record.recordIntent(commandId: 7, brokerMilliseconds: 1) == nil)
    #expect(record.recordResult(commandId: 7, .init(status: .done, hostResult: 0, deal: 70, login: 1)) == nil)
    // A crash mid-append: part of a third record on disk.
    let handle = try #require(FileHandle(forWritingAtPath: path))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(repeating: 0x54, count: tornBytes))
    try handle.close()

    let reopened = try #require(CommandLog.open(path: path).0)
    #expect(reopened.results[7]?.deal == 70)
    #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 2 * CommandLog.recordSize)
    // Appends continue on a record boundary.
    #expect(reopened.recordIntent(commandId: 8, brokerMilliseconds: 2) == nil)
    #expect(try #require(CommandLog.open(path: path).0).intents[8] != nil)
  }

  @Test func aDamagedRecordWithIntactOnesAfterItRefusesToOpenAndCutsNothing() throws {
    let path = Self.path()
    let record = try #require(CommandLog.open(path: path).0)
    #expect(record.recordIntent(commandId: 1, brokerMilliseconds: 1) == nil)
    #expect(record.recordIntent(commandId: 2, brokerMilliseconds: 2) == nil)
    // One bit flipped in the first record's command id: its CRC fails, the second is intact.
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    bytes[8] ^= 0x01
    try bytes.write(to: URL(fileURLWithPath: path))
    let (log, problem) = CommandLog.open(path: path)
    #expect(log == nil)
    #expect(problem?.contains("is damaged and intact records follow it") == true)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes, "nothing cut")
  }

  @Test func anUnwritableRecordIsAReasonNeverATrap() {
    let (log, problem) = CommandLog.open(path: "/proc/tradetap-no-such-dir/journal.commands")
    #expect(log == nil)
    #expect(problem?.hasPrefix("cannot open /proc/tradetap-no-such-dir/journal.commands") == true)
  }
}
