import Testing
import TradeTapLedger

/// The FIX sessions' ledger tables (migration `v8 fix sessions`, docs/fix.md) on both
/// backends: sequence numbers, the reports kept for a resend, and a 141=Y reset.
@Suite("FIX session store", .serialized)
struct FIXSessionStoreTests {
  @Test(arguments: LedgerBackendKind.allCases)
  func sequenceNumbersAndSentReportsAreKeptAndAResetForgetsTheReports(backend: LedgerBackendKind) async throws {
    try await CommandStoreTests.withStore(backend) { store in
      #expect(try await store.fixSequences("fix-A-B") == FIXSequenceState(nextOutgoing: 1, nextIncoming: 1, lastChangeId: 0))
      let body = "37=5000001\u{1}17=7-1000009\u{1}150=F\u{1}31=1.08350\u{1}"
      let reports = (2...4).map { FIXSentReport(seq: Int64($0), changeId: Int64(10 * $0), sentUtc: "2026-12-03T19:36:0\($0).000Z", body: body) }
      try await store.saveFIXSequences(
        "fix-A-B", FIXSequenceState(nextOutgoing: 5, nextIncoming: 3, lastChangeId: 40), reports: reports, reset: false)
      try await store.saveFIXSequences("fix-A-C", FIXSequenceState(nextOutgoing: 9, nextIncoming: 2, lastChangeId: 7), reports: [], reset: false)
      #expect(try await store.fixSequences("fix-A-B") == FIXSequenceState(nextOutgoing: 5, nextIncoming: 3, lastChangeId: 40))
      #expect(try await store.fixReports("fix-A-B", fromSeq: 3, throughSeq: 100) == Array(reports.dropFirst()))
      #expect(try await store.fixReports("fix-A-B", fromSeq: 1, throughSeq: 2) == [reports[0]])
      try await store.saveFIXSequences(
        "fix-A-B", FIXSequenceState(nextOutgoing: 2, nextIncoming: 2, lastChangeId: 40), reports: [], reset: true)
      #expect(try await store.fixReports("fix-A-B", fromSeq: 1, throughSeq: 100).isEmpty)
      #expect(try await store.fixSequences("fix-A-B") == FIXSequenceState(nextOutgoing: 2, nextIncoming: 2, lastChangeId: 40))
      #expect(try await store.fixSequences("fix-A-C") == FIXSequenceState(nextOutgoing: 9, nextIncoming: 2, lastChangeId: 7))
    }
  }
}
