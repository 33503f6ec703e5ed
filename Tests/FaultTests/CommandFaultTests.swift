import Testing

/// Issue 17's proofs on real processes (Tools/faults/commands.sh): a CRM posting
/// every operation three times with its Idempotency-Key, then one fault at a time
/// (the collector killed after the 202 and while the host is inside balance_change,
/// the link cut there, the plugin dead between the host call and its record). Every
/// command ends done or rejected, the platform holds exactly one TT# deal per done
/// command and none per rejected one, and `tradetap verify` is clean.
@Suite("Faults: money in, exactly once", .serialized)
struct CommandFaultTests {
  @Test func aThousandRetriedOperationsAndEveryFaultLeaveOneDealPerDoneCommandOnMT5() throws {
    let (status, output) = try FaultDriver.run("commands.sh", ["1000"])
    #expect(status == 0, "\(output)")
    #expect(output.contains("final 1000 of 1000"), "\(output)")
    #expect(output.contains("doubled 0, strays 0, problems 0"), "\(output)")
    #expect(output.contains("resolved from the platform's TT# mark: yes"), "\(output)")
    #expect(output.contains("accounts opened: final 3 of 3: done 2 rejected 1"), "\(output)")
    #expect(output.contains("accounts: 2 opened by commands, 0 doubled"), "\(output)")
    #expect(output.contains(" 0 divergences"), "\(output)")
  }

  @Test func onMT4TheMarkIsFoundInTheTradeRecords() throws {
    let (status, output) = try FaultDriver.run("commands.sh", ["200"], environment: ["PLATFORM": "mt4"])
    #expect(status == 0, "\(output)")
    #expect(output.contains("final 200 of 200"), "\(output)")
    #expect(output.contains("doubled 0, strays 0, problems 0"), "\(output)")
    #expect(output.contains(" 0 divergences"), "\(output)")
  }
}
