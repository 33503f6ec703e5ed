import ArgumentParser
import Foundation

/// `tradetap bench`: the latency and throughput suite, peers included, in one run
/// (issue 7). The measuring is done by C programs and plugins compiled with `cc` at run
/// time (Tools/bench-pipeline, Tools/bench-peers) and driven by `suite.py`, so the peers'
/// libraries (libzmq, libnats) are never a build dependency of this package: a peer whose
/// library is missing is reported "not run" and the rest still runs.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Runs the latency and throughput suite against its peers; writes a table, JSON and a plot.",
    discussion: """
      Drives the real plugin .so in a paced C host against a real collector, the loopback \
      floor, a naive blocking-send plugin, ZeroMQ PUSH/PULL and NATS JetStream under the \
      same deals and rates. Needs cc, python3 and openssl; nats-server, libzmq3-dev and \
      libnats-dev for the peers. See BENCHMARKS.md.
      """
  )

  @Option(help: "Folder for results.json, latency.svg, table.txt, logs and the compiled C parts.")
  var out: String = "./bench-results"
  @Flag(help: "A short run (about a minute): 1 s per rate, 50,000 unpaced and replayed events.")
  var smoke = false
  @Option(help: "Paced rates, events per second, comma-separated (default 1000,10000,100000).")
  var rates: String?
  @Option(help: "Seconds per paced phase (default 10; 1 with --smoke).")
  var seconds: Double?
  @Option(name: .customLong("unpaced-events"), help: "Events of the unpaced phase (default 300,000).")
  var unpacedEvents: Int?
  @Option(name: .customLong("replay-events"), help: "Backlog replayed after the collector was down (default 5,000,000).")
  var replayEvents: Int?
  @Option(name: .customLong("sender-idle"),
          help: "Plugin Sender.Idle values, comma-separated (busy-spin,yield,backoff,park): each paced rate runs TradeTap once per value, each against its own floor run; the first is the TradeTap of the other tables (default: the plugin's default).")
  var senderIdle: String?
  @Option(help: "The repository's Tools/ folder (default: found above the executable or the current folder).")
  var tools: String?

  func run() throws {
    let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    let plugin = binary.appendingPathComponent("libTradeTapPlugin.so").path
    guard FileManager.default.fileExists(atPath: plugin) else {
      throw ValidationError("no \(plugin): build it first (swift build -c release --product TradeTapPlugin)")
    }
    guard let toolsFolder = tools ?? BenchTools.locate(from: [binary.path, FileManager.default.currentDirectoryPath]) else {
      throw ValidationError("cannot find Tools/bench-peers/suite.py above \(binary.path) or here: pass --tools DIR")
    }
    var arguments = ["\(toolsFolder)/bench-peers/suite.py", "--bin", binary.path, "--tools", toolsFolder, "--out", out]
    if smoke { arguments.append("--smoke") }
    if let rates { arguments += ["--rates", rates] }
    if let seconds { arguments += ["--seconds", String(seconds)] }
    if let unpacedEvents { arguments += ["--unpaced-events", String(unpacedEvents)] }
    if let replayEvents { arguments += ["--replay-events", String(replayEvents)] }
    if let senderIdle { arguments += ["--sender-idle", senderIdle] }
    let suite = Process()
    suite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    suite.arguments = ["python3"] + arguments
    do { try suite.run() } catch { throw ValidationError("cannot start python3: \(error)") }
    suite.waitUntilExit()
    if suite.terminationStatus != 0 { throw ExitCode(suite.terminationStatus) }
  }
}

/// Where the benchmark's C sources and scripts live.
enum BenchTools {
  /// The first `Tools` folder holding bench-peers/suite.py in or above any of `starts`.
  static func locate(from starts: [String]) -> String? {
    for start in starts {
      var folder = URL(fileURLWithPath: start).standardizedFileURL
      for _ in 0..<6 {
        let candidate = folder.appendingPathComponent("Tools")
        if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("bench-peers/suite.py").path) {
          return candidate.path
        }
        folder.deleteLastPathComponent()
      }
    }
    return nil
  }
}
