import Testing
import TradeServerAPI

@Test func headerIsImportable() {
  #expect(TS_API_VERSION == 1)
}
