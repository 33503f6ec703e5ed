import Foundation
import Glibc
import Testing
import TradeTapJournal
import TradeTapPluginCore

/// The real plugin core and sender thread against a collector that holds the secret
/// and lies (SECURITY.md, "A lying collector"): whatever it claims, the sender never
/// traps, never releases a record it did not send and see acknowledged, and never
/// skips one on the collector's word.
@Suite(.serialized) struct HostileCollectorSpecification {
  let folder: String
  let secretFile: String

  init() throws {
    folder = try makeTemporaryFolder()
    secretFile = folder + "/plugin-secret"
    try "s3cret-for-tests\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
    chmod(secretFile, 0o600)
  }

  private func startPlugin(_ collector: HostileCollector) throws -> (InProcessHost, PluginInstance) {
    Sender.install()
    let host = InProcessHost(serverId: 7, parameters: [
      "Collector": "127.0.0.1:\(collector.port)", "SecretFile": secretFile, "Journal.Path": folder + "/journal",
      "Journal.SizeMB": "8", "Heartbeat.Seconds": "1", "TLS": "off",
    ])
    return (host, try PluginInstance.startup(api: host.api))
  }

  private func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(10_000)
    }
    return condition()
  }

  @Test(arguments: [UInt64.max, UInt64.max - 1, UInt64.max - 2, UInt64(1) << 62 + 1] as [UInt64])
  func aWelcomeAtTheTopOfTheSequenceSpaceIsRefusedNotATrap(durable: UInt64) throws {
    // A fresh journal (never settled): before, `durable + 1` trapped the host (SIGILL) at every start.
    let collector = try HostileCollector(secret: "s3cret-for-tests") { _ in .init(welcomeDurable: durable) }
    defer { collector.close() }
    let (host, instance) = try startPlugin(collector)
    for ticket in 1...20 { host.fireDeal(ticket: UInt64(ticket)) }
    let retried = eventually(seconds: 10) { collector.connections.load(ordering: .relaxed) >= 2 }
    let freshness = instance.journal.freshness
    let released = instance.journal.releasedSequence
    instance.cleanup()
    #expect(retried, "the sender backed off and dialled again")
    #expect(host.log.contains { $0.contains("protocol violation") && $0.contains("nothing released") }, "\(host.log)")
    #expect(freshness != .settled, "a lying welcome does not settle a fresh journal's numbering")
    #expect(released == 0)
    #expect(collector.allSequences.isEmpty, "nothing sent after a refused welcome")
  }

  @Test func aWelcomePastTheJournalsEndReleasesNothingAndAnHonestOneGetsEverything() throws {
    // Connection 0 acks only through 150 of 500 and closes; 1 and 2 claim 850 (the
    // journal never held more than 500); 3 on is honest (durable 150).
    let collector = try HostileCollector(secret: "s3cret-for-tests") { index in
      switch index {
      case 0: .init(welcomeDurable: 0, ack: { min($0, 150) }, closeAfterEvents: 500)
      case 1, 2: .init(welcomeDurable: 850)
      default: .init(welcomeDurable: 150)
      }
    }
    defer { collector.close() }
    let (host, instance) = try startPlugin(collector)
    for ticket in 1...500 { host.fireDeal(ticket: UInt64(ticket)) }
    let lied = eventually(seconds: 15) { collector.connections.load(ordering: .relaxed) >= 3 }
    let releasedWhileLiedTo = instance.journal.releasedSequence
    let delivered = eventually(seconds: 20) { instance.journal.releasedSequence == 500 }
    let released = instance.journal.releasedSequence
    instance.cleanup()
    #expect(lied)
    #expect(releasedWhileLiedTo == 150, "before: the lying welcome released 350 records never sent")
    #expect(host.log.contains { $0.contains("only ever held through 500") }, "\(host.log.suffix(8))")
    #expect(delivered, "released \(released)")
    #expect(collector.allSequences == Set(1...500), "every record reached the honest collector")
  }

  @Test func aWelcomeInsideTheJournalBeyondItsAcksMakesTheSenderResendNotSkip() throws {
    // Connection 0 acks through 150 of 500 and closes; connection 1 claims 400
    // (plausible: the journal holds 500) but holds nothing past 150.
    let collector = try HostileCollector(secret: "s3cret-for-tests") { index in
      index == 0 ? .init(welcomeDurable: 0, ack: { min($0, 150) }, closeAfterEvents: 500) : .init(welcomeDurable: 400)
    }
    defer { collector.close() }
    let (host, instance) = try startPlugin(collector)
    for ticket in 1...500 { host.fireDeal(ticket: UInt64(ticket)) }
    let delivered = eventually(seconds: 20) { instance.journal.releasedSequence == 500 }
    instance.cleanup()
    #expect(delivered)
    #expect(Set(collector.sequences(onConnection: 1)) == Set(151...500), "resent from the released point, not from the claim")
  }

  @Test func anAckBeyondTheJournalIsRefusedAndAnAckBeyondWhatWasSentReleasesOnlyWhatWasSent() throws {
    let collector = try HostileCollector(secret: "s3cret-for-tests") { index in
      switch index {
      case 0: .init(ack: { _ in UInt64.max })  // beyond anything journaled: a violation
      case 1: .init(ack: { _ in 1 << 62 })
      default: .init(ack: { $0 })
      }
    }
    defer { collector.close() }
    let (host, instance) = try startPlugin(collector)
    for ticket in 1...50 { host.fireDeal(ticket: UInt64(ticket)) }
    let delivered = eventually(seconds: 20) { instance.journal.releasedSequence == 50 }
    instance.cleanup()
    #expect(delivered)
    #expect(host.log.filter { $0.contains("protocol violation: ack through") }.count == 2, "\(host.log)")
    #expect(collector.allSequences == Set(1...50))
  }

  @Test func theCollectorsTextCannotForgeHostLogLinesAndItsHeartbeatIsBounded() throws {
    let forged = "bad\n[0] forged line\r" + String(repeating: "x", count: 5000)
    let collector = try HostileCollector(secret: "s3cret-for-tests") { index in
      index == 0 ? .init(errorAfterWelcome: forged) : .init(heartbeatMillis: 1)
    }
    defer { collector.close() }
    let (host, instance) = try startPlugin(collector)
    _ = eventually(seconds: 10) { collector.connections.load(ordering: .relaxed) >= 2 }
    let before = collector.heartbeatsReceived.load(ordering: .relaxed)
    usleep(1_000_000)
    let beats = collector.heartbeatsReceived.load(ordering: .relaxed) - before
    instance.cleanup()
    let refusal = host.log.first { $0.contains("collector refused") }
    #expect(refusal != nil, "\(host.log)")
    #expect(refusal.map { !$0.contains("\n") && !$0.contains("\r") && $0.contains("\\u{a}") } == true, "\(refusal ?? "")")
    #expect((refusal?.count ?? .max) < 600, "the peer's text is cut")
    #expect(beats <= 15, "a 1 ms heartbeat asked by the collector is raised to 100 ms: \(beats) in 1 s")
  }
}
