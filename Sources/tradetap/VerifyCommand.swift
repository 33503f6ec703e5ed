import ArgumentParser
import Foundation
import TradeTapCollector
import TradeTapLedger
import TradeTapVerify

/// `tradetap verify`: compares a trade server's state with the ledger.
struct VerifyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Compares a trade server's state (from `tradetap sim --state-out`) with the ledger.",
    discussion: """
      Checks balance and credit of every account to the cent, every deal and every open \
      position (MT4: history records and open trades). Prints one line per divergence and \
      a last line `verify: A accounts, D deals, P positions, N divergences`; exits 0 only \
      when N is 0.
      """
  )

  @Option(help: "State file written by `tradetap sim --state-out`.")
  var state: String
  @Option(help: "The ledger: sqlite:PATH or postgres://user:pass@host:port/db.")
  var database: String
  @Option(name: .customLong("server-id"), help: "Trade server to compare (default: the state file's).")
  var serverID: Int64?

  func run() async throws {
    let report: VerifyReport
    do {
      let platform = try PlatformState.load(path: state)
      let ledger = try await Self.openLedger(database)
      do {
        report = try await LedgerVerifier.verify(platform, store: ledger, serverID: serverID)
        await ledger.close()
      } catch {
        await ledger.close()
        throw error
      }
    } catch let error as VerifyError {
      // Exit 2: verify could not compare (1 means it compared and found divergences).
      FileHandle.standardError.write(Data("verify: \(error.description)\n".utf8))
      throw ExitCode(2)
    }
    var out = ""
    for divergence in report.divergences {
      out += "divergence: \(divergence)\n"
      if out.utf8.count > 1 << 16 {
        FileHandle.standardOutput.write(Data(out.utf8))
        out = ""
      }
    }
    out += report.summary + "\n"
    FileHandle.standardOutput.write(Data(out.utf8))
    if !report.divergences.isEmpty { throw ExitCode(1) }
  }

  /// The ledger `--database` names, opened for reading on its backend.
  /// - Throws: ``VerifyError`` saying why it cannot be read.
  static func openLedger(_ database: String) async throws -> any LedgerStore {
    guard let location = LedgerLocation(database) else {
      throw VerifyError.unsupportedDatabase("\(database) is not sqlite:PATH or postgres://...")
    }
    do {
      return try await LedgerBackend.open(location, access: .read)
    } catch {
      // A SQLite file's reason names its path already (`no ledger at PATH`).
      if case .sqlite = location, case .unavailableDatabase(let reason)? = error as? LedgerError {
        throw VerifyError.unreadableLedger(reason)
      }
      throw VerifyError.unreadableLedger("cannot open \(LedgerBackend.describe(location)): \(error)")
    }
  }
}
