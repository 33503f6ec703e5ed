import Testing

/// Issue 13's webhook output on real processes (Tools/faults/webhook.sh): two signed
/// webhooks follow the change feed while the simulator streams through the real
/// plugin; one receiver answers 500, then too slowly, then 400 once (a dead letter,
/// re-driven through the API), then dies and returns; then both answer 500 while the
/// collector is killed and restarted. Each receiver, verifying every signature with
/// the verifier docs/outputs.md shows, applies every change exactly once.
@Suite("Faults: outputs deliver every change once in effect", .serialized)
struct OutputFaultTests {
  @Test func twoWebhooksThroughRefusalsTimeoutsADeadReceiverAndAKilledCollectorApplyEveryChangeOnce() throws {
    let (status, output) = try FaultDriver.run("webhook.sh", ["300", "14"])
    #expect(status == 0, "\(output)")
    #expect(output.contains("receiver a: changes 1.."), "\(output)")
    #expect(output.contains("missing 0, doubled 0"), "\(output)")
    #expect(!output.contains("bad signatures 1"), "\(output)")
    #expect(output.contains("dead letters of A: 1, re-driven 1"), "\(output)")
  }

  /// The NATS JetStream output (Tools/faults/nats.sh): a 3-node JetStream cluster on
  /// loopback and an R3 stream the collector creates; while the simulator streams, a
  /// node and then the stream's leader are killed (kill -9) and restarted; then the
  /// collector is killed, restarted asking for R1 (the existing R3 stream is never
  /// changed: it publishes nothing and says why), killed and restarted right. An
  /// independent consumer (the C client) reads every change exactly once, in order,
  /// with its subject and Msg-Id.
  @Test func aThreeNodeClusterLosingANodeItsLeaderAndTheCollectorHoldsEveryChangeOnceInOrder() throws {
    let (status, output) = try FaultDriver.run("nats.sh", ["300", "25"])
    #expect(status == 0, "\(output)")
    #expect(output.contains("missing 0, doubled 0, out of order 0, bad subject or Msg-Id 0"), "\(output)")
    #expect(output.contains("never changed silently"), "\(output)")
    #expect(output.contains("figures: publish rate"), "\(output)")
  }
}
