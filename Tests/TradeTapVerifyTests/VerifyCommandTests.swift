import Foundation
import GRDB
import Testing
import TradeTapVerify

/// The built `tradetap` executable ($TRADETAP_BUILD_DIR, else next to the test binary).
func tradetapExecutable() throws -> String {
  let folder = ProcessInfo.processInfo.environment["TRADETAP_BUILD_DIR"]
    ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
  let path = folder + "/tradetap"
  try #require(FileManager.default.isExecutableFile(atPath: path), "tradetap not built at \(path)")
  return path
}

func runTradetap(_ arguments: [String]) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: try tradetapExecutable())
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("tradetap sim and verify", .serialized)
struct VerifyCommandTests {
  @Test func simStateOutThenVerifyExitsZeroOnAFaithfulLedgerAndOneOnADivergence() throws {
    let statePath = scratchPath("cli-state.json")
    let sim = try runTradetap(["sim", "--events", "3000", "--rate", "0", "--accounts", "10", "--seed", "9",
                               "--server-id", "3", "--state-out", statePath, "--journal", scratchPath("cli.log")])
    #expect(sim.status == 0)
    #expect(sim.output.contains("sim: done: "))
    let state = try PlatformState.load(path: statePath)
    let (ledger, ledgerPath) = try faithfulLedger(state, name: "cli")
    let good = try runTradetap(["verify", "--state", statePath, "--database", "sqlite:\(ledgerPath)"])
    #expect(good.status == 0)
    #expect(good.output.hasSuffix("positions, 0 divergences\n"))
    try ledger.pool.write { db in try db.execute(sql: "UPDATE accounts SET credit = '1.00' WHERE login = 10002") }
    let bad = try runTradetap(["verify", "--state", statePath, "--database", "sqlite:\(ledgerPath)", "--server-id", "3"])
    #expect(bad.status == 1)
    #expect(bad.output.contains("divergence: account 10002 credit: platform "))
    #expect(bad.output.hasSuffix("positions, 1 divergences\n"))
  }

  @Test func verifyWithoutALedgerFailsWithOneLine() throws {
    let result = try runTradetap(["verify", "--state", "/nonexistent.json", "--database", "sqlite:/nonexistent.sqlite"])
    #expect(result.status == 2)
    #expect(result.output == "verify: state: cannot read /nonexistent.json\n")
  }

  @Test func simRefusesContradictoryFlagsWithAClearError() throws {
    let result = try runTradetap(["sim", "--events", "10", "--duration", "1s"])
    #expect(result.status != 0)
    #expect(result.output.contains("give --duration or --events, not both"))
  }
}
