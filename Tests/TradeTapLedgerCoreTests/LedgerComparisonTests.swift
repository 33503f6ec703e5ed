import Testing
import TradeTapEvents
import TradeTapLedgerCore

/// The one field comparison (reconciliation's sweep and `tradetap verify`).
@Suite("Ledger core: one comparison of ledger rows with the platform")
struct LedgerComparisonTests {
  @Test func moneyComparesAsExactDecimalsWhetherThePlatformGivesAValueOrText() {
    var check = LedgerFieldCheck()
    check.decimal("balance", ledger: "12.50", platform: ExactDecimal("12.5")!)
    check.decimal("credit", ledger: "0", platform: "0.00")
    check.decimal("profit", ledger: "1.01", platform: "1.00")
    check.decimal("fee", ledger: nil, platform: "0.00")
    check.decimal("price", ledger: "n/a", platform: "n/a")  // neither a decimal: compared as text
    #expect(check.fields.map(\.0) == ["profit", "fee"])
  }

  @Test func aDivergenceReadsTheSameForVerifyAndSaysTheCorrectionForASweep() {
    var check = LedgerFieldCheck()
    check.decimal("balance", ledger: "99.00", platform: "100.00")
    check.exact("login", ledger: nil as Int64?, platform: Int64(7))
    let reported = check.divergences(.account, key: 10001)
    #expect(reported.map(\.description) == [
      "account 10001 balance: platform 100.00, ledger 99.00", "account 10001 login: platform 7, ledger NULL",
    ])
    let corrected = check.divergences(.account, key: 10001, correction: .updated)
    #expect(corrected[0].description == "account 10001 balance: platform 100.00, ledger 99.00 → updated")
    #expect(LedgerDivergence(subject: .deal, key: 5, field: "missing", ledgerValue: nil, platformValue: "present")
      .description == "deal 5: on the platform, missing from the ledger")
  }
}
