import Testing

/// Issue 14's FIX 4.4 drop copy against an independent counterparty: QuickFIX
/// (PyPI `quickfix-ssl`, installed by Tools/fix/install.sh into .build/fix-venv) as the
/// back office, with its FIX 4.4 data dictionary validation on, on real processes
/// (Tools/faults/fix.sh, Tools/faults/fix-hostile.sh; docs/fix.md).
@Suite("Faults: the FIX drop copy reports every deal once", .serialized)
struct FIXDropCopyTests {
  /// MT5 and MT4 simulators stream; the initiator is killed and comes back expecting a
  /// lower sequence number (a ResendRequest served with PossDupFlag=Y), the collector
  /// is killed -9 and restarted, and the session is reset with 141=Y. Every trade deal
  /// of the ledger has its report, every ExecID once apart from PossDup=Y repeats, the
  /// values are the ledger's exact text, and QuickFIX rejected nothing.
  @Test func quickFIXGetsEveryDealOnceThroughAResendAKilledCollectorAndASequenceReset() throws {
    let (status, output) = try FaultDriver.run("fix.sh", ["200", "12"])
    #expect(!output.contains("no QuickFIX at"), "QuickFIX is missing: run Tools/fix/install.sh. \(output)")
    #expect(status == 0, "\(output)")
    #expect(output.contains("missing 0, unknown 0, doubled without PossDup 0, values unlike the ledger 0"), "\(output)")
    #expect(output.contains("QuickFIX rejects sent: 0"), "\(output)")
    #expect(output.contains("1 ResendRequests served, 1 sequence resets"), "\(output)")
  }

  /// The same over TLS (`--fix-tls-cert/--fix-tls-key`, and the plugins over TLS too):
  /// QuickFIX's SSLSocketInitiator verifies the acceptor's certificate on each of its
  /// four Logons, and the three disruptions lose and double nothing.
  @Test func quickFIXOverTLSVerifiesTheAcceptorAndGetsEveryDealOnce() throws {
    let (status, output) = try FaultDriver.run("fix.sh", ["200", "6"], tls: true)
    #expect(!output.contains("no QuickFIX at"), "QuickFIX is missing: run Tools/fix/install.sh. \(output)")
    #expect(status == 0, "\(output)")
    #expect(output.contains("FIX over TLS: on, QuickFIX verified the certificate 4 times"), "\(output)")
    #expect(output.contains("missing 0, unknown 0, doubled without PossDup 0, values unlike the ledger 0"), "\(output)")
    #expect(output.contains("QuickFIX rejects sent: 0"), "\(output)")
  }

  /// Garbage, a wrong CompID, a wrong and a missing password, a huge BodyLength, a bad
  /// CheckSum, a slowloris Logon and a message missing SendingTime each get the answer
  /// docs/fix.md gives; a flood of TestRequests that never reads its answers grows the
  /// collector by less than 64 MB; the collector stays up and the QuickFIX session next
  /// to them keeps its one Logon and gets every deal once.
  @Test func hostileInputGetsItsDocumentedAnswerAndLeavesTheOtherSessionAlone() throws {
    let (status, output) = try FaultDriver.run("fix-hostile.sh", ["100", "6"])
    #expect(!output.contains("no QuickFIX at"), "QuickFIX is missing: run Tools/fix/install.sh. \(output)")
    #expect(status == 0, "\(output)")
    #expect(output.contains("hostile cases failed: 0"), "\(output)")
    #expect(!output.contains("FAIL the flood grew the collector"), "\(output)")
    #expect(output.contains("collector: still up"), "\(output)")
    #expect(output.contains("other session: logons 1, QuickFIX rejects sent 0"), "\(output)")
  }
}
