import PostgresNIO
import TradeTapLedger

extension PostgresLedger {
  public func catchUp(serverId: Int64) async throws -> LedgerCatchUp {
    try await records("\(unescaped: LedgerReadSQL.catchUp)\(serverId) AS id) s").first.map(LedgerCatchUp.init) ?? LedgerCatchUp()
  }
}
