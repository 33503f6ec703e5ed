import Testing
import TradeTapLedger

/// Outputs' cursors and dead letters (`LedgerStore`'s Outputs section, docs/outputs.md),
/// the same on both backends.
@Suite("Output store", .serialized)
struct OutputStoreTests {
  @Test(arguments: LedgerBackendKind.allCases)
  func aCursorNeverMovesBackAndADeadLetterMovesItPastTheRefusedBatch(backend: LedgerBackendKind) async throws {
    try await CommandStoreTests.withStore(backend) { store in
      #expect(try await store.outputCursor("webhook-a") == 0)
      try await store.advanceOutputCursor("webhook-a", to: 10)
      try await store.advanceOutputCursor("webhook-a", to: 5)  // a late, older confirmation
      #expect(try await store.outputCursor("webhook-a") == 10)
      #expect(try await store.outputCursor("webhook-b") == 0, "each output its own cursor")

      let letter = try await store.deadLetter(
        output: "webhook-a", firstChangeId: 11, lastChangeId: 20, status: 400,
        response: String(repeating: "é", count: 1000))
      #expect(try await store.outputCursor("webhook-a") == 20)
      #expect(letter.response.utf8.count <= 1024 && letter.response.allSatisfy { $0 == "é" })
      #expect(try await store.deadLetters(output: "webhook-a", waitingOnly: true, limit: 10).map(\.id) == [letter.id])
      #expect(try await store.deadLetters(output: "webhook-b", waitingOnly: false, limit: 10).isEmpty)

      let redriven = try #require(try await store.markRedriven(output: "webhook-a", id: letter.id))
      #expect(redriven.redrivenUtc != nil && redriven.firstChangeId == 11 && redriven.lastChangeId == 20 && redriven.status == 400)
      #expect(try await store.deadLetters(output: "webhook-a", waitingOnly: true, limit: 10).isEmpty)
      #expect(try await store.deadLetters(output: "webhook-a", waitingOnly: false, limit: 10).count == 1)
      #expect(try await store.markRedriven(output: "webhook-b", id: letter.id) == nil, "another output's letter")
    }
  }
}
