import Foundation
import Testing

/// `tradetap demo`, the README's first command, as a user runs it: real collector,
/// real simulated server with the plugin, and here both push outputs too (a
/// signature-checking receiver and a throwaway 3-node JetStream cluster).
@Suite("tradetap demo") struct DemoTests {
  @Test func theDemoWithBothOutputsVerifiesTheLedgerAndEveryDestinationHoldsEveryChangeOnce() throws {
    let folder = try Artifacts.temporaryFolder() + "/demo"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try Artifacts.path("tradetap"))
    process.arguments = [
      "demo", "--dir", folder, "--duration", "3s", "--rate", "2000", "--accounts", "50", "--webhook", "--nats-cluster",
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    print(text.split(separator: "\n").filter { !$0.hasPrefix("demo: ") }.joined(separator: "\n"))
    #expect(process.terminationStatus == 0, "\(text.suffix(3000))")
    #expect(text.contains(", 0 divergences"))
    #expect(text.contains("outputs lag"), "the progress line shows the outputs' lag")
    // Every change of the ledger, at each destination, once.
    let receiver = try #require(text.split(separator: "\n").first { $0.hasPrefix("webhook receiver: ") })
    let words = receiver.split(separator: " ")
    #expect(words.count > 6 && words[2] == words[6] && Int(words[2])! > 1000, "\(receiver)")
    #expect(receiver.contains(", 0 bad signatures"))
    let stream = try #require(text.split(separator: "\n").first { $0.hasPrefix("NATS JetStream: ") })
    let streamWords = stream.split(separator: " ")
    #expect(streamWords.count > 10 && streamWords[5] == streamWords[9] && streamWords[5] == words[2], "\(stream)")
    #expect(text.split(separator: "\n").filter { $0.hasPrefix("output ") && $0.contains("lag 0 changes") }.count == 2)
  }
}
