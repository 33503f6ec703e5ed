import Foundation
import GRDB
import TradeTapLedger
import TradeTapSimulator
import TradeTapVerify

func scratchPath(_ name: String) -> String {
  FileManager.default.temporaryDirectory.appendingPathComponent("tradetap-verify-\(getpid())-\(name)").path
}

/// A real simulated run's state, written with `--state-out`'s writer and read back.
func simulatedState(_ platform: SimulationConfiguration.Platform, name: String) throws -> (PlatformState, String) {
  var configuration = SimulationConfiguration()
  configuration.platform = platform
  configuration.length = .events(4_000)
  configuration.rate = 0
  configuration.accounts = 20
  configuration.serverID = 3
  let server = SimulatedTradeServer(configuration: configuration, journal: try HostJournal(path: scratchPath("\(name).log")))
  _ = try server.run()
  let path = scratchPath("\(name)-state.json")
  try ServerStateWriter.write(shards: server.shards, host: server.host, configuration: configuration, to: path)
  return (try PlatformState.load(path: path), path)
}

/// A ledger created by the ledger's own migrations, holding exactly the platform's
/// state (what a perfect tap would have written), for verify to compare.
func faithfulLedger(_ state: PlatformState, name: String) throws -> (Ledger, String) {
  let path = scratchPath("\(name).sqlite")
  for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
  let ledger = try Ledger(path: path)
  try ledger.pool.write { db in
    try db.execute(sql: "INSERT INTO servers (id, utc_offset_minutes) VALUES (?, 120)", arguments: [state.server_id])
    for a in state.accounts {
      try db.execute(sql: """
        INSERT INTO accounts (server_id, login, "group", currency_digits, balance, credit, updated_seq)
        VALUES (?, ?, ?, 2, ?, ?, 1)
        """, arguments: [state.server_id, a.login, a.group, a.balance, a.credit])
    }
    for d in state.deals ?? [] {
      try db.execute(sql: """
        INSERT INTO deals (server_id, deal, login, "order", position_id, action, entry, reason, symbol, digits,
          currency_digits, time_msc, time_utc, price, volume_ext, contract_size, profit, commission, storage, fee,
          comment, updated_seq)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 5, 2, ?, '', ?, ?, '0', ?, ?, ?, ?, ?, 1)
        """, arguments: [state.server_id, d.deal, d.login, d.order, d.position_id, d.action, d.entry, d.reason, d.symbol,
                         d.time_msc, d.price, d.volume_ext, d.profit, d.commission, d.storage, d.fee, d.comment ?? ""])
    }
    for p in state.positions ?? [] {
      try db.execute(sql: """
        INSERT INTO positions (server_id, position, login, symbol, action, digits, volume_ext, price_open,
          price_current, profit, storage, time_create_msc, time_create_utc, time_update_msc, time_update_utc, updated_seq)
        VALUES (?, ?, ?, ?, ?, 5, ?, ?, '0', '0', ?, 0, '', 0, '', 1)
        """, arguments: [state.server_id, p.position, p.login, p.symbol, p.action, p.volume_ext, p.price_open, p.storage])
    }
    for (trade, open) in (state.trades ?? []).map({ ($0, true) }) + (state.history ?? []).map({ ($0, false) }) {
      let deletedPending = !open && (2...5).contains(trade.cmd)
      try db.execute(sql: """
        INSERT INTO trades (server_id, ticket, login, symbol, digits, cmd, volume, open_time, open_time_utc, state,
          open_price, sl, tp, close_time, close_price, commission, storage, profit, taxes, magic, comment, timestamp,
          is_open, deleted, last_mode, updated_seq)
        VALUES (?, ?, ?, ?, 5, ?, ?, 0, '', 0, ?, ?, ?, 0, ?, ?, ?, ?, '0', 0, ?, 0, ?, ?, 0, 1)
        """, arguments: [state.server_id, trade.ticket, trade.login, trade.symbol, trade.cmd, trade.volume,
                         trade.open_price, trade.sl ?? "0", trade.tp ?? "0", trade.close_price ?? "0", trade.commission,
                         trade.storage, trade.profit, trade.comment, open, deletedPending])
    }
  }
  return (ledger, path)
}
