import Foundation

/// Writes the server's final state as JSON (`--state-out`): every account with
/// balance and credit as exact decimal strings, every deal (MT5), open positions
/// (MT5), open trades and trade history (MT4). Arrays are sorted by login / ticket
/// so that two runs with the same seed write the same bytes except for times.
/// The format is documented in docs/simulator.md; `tradetap verify` reads it.
public enum ServerStateWriter {
  public static let format = "tradetap-sim-state/1"

  /// Writes the state of every shard (all locked, in order) to `path`.
  public static func write(shards: [ServerShard], host: PluginHost, configuration: SimulationConfiguration,
                           to path: String) throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    guard let handle = FileHandle(forWritingAtPath: path) else {
      throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
    }
    defer { try? handle.close() }
    var out = JSONOut(handle: handle)
    host.withEveryShardLocked { shards in
      write(shards: shards, configuration: configuration, into: &out)
    }
    out.flush()
  }

  /// The state as one JSON string (tests).
  public static func render(shards: [ServerShard], configuration: SimulationConfiguration) -> String {
    var out = JSONOut(handle: nil)
    write(shards: shards, configuration: configuration, into: &out)
    return out.buffer
  }

  static func write(shards: [ServerShard], configuration: SimulationConfiguration, into out: inout JSONOut) {
    out.raw("{\"format\":\"\(format)\",\"platform\":\"\(configuration.platform.rawValue)\",")
    out.raw("\"server_id\":\(configuration.serverID),\"utc_offset_minutes\":\(configuration.utcOffsetMinutes),\n")
    var accounts: [Account] = []
    for shard in shards {
      accounts += shard.logins.compactMap { shard.account($0) }
    }
    accounts.sort { $0.login < $1.login }
    out.raw("\"accounts\":[")
    for (i, a) in accounts.enumerated() {
      out.raw(i == 0 ? "\n" : ",\n")
      out.raw("{\"login\":\(a.login),\"group\":"); out.string(a.group)
      out.raw(",\"margin_mode\":\"\(a.marginMode.name)\",\"currency\":"); out.string(a.currency)
      out.raw(",\"currency_digits\":\(a.currencyDigits),\"leverage\":\(a.leverage)")
      out.raw(",\"balance\":\"\(Money.decimalString(a.balance, digits: a.currencyDigits))\"")
      out.raw(",\"credit\":\"\(Money.decimalString(a.credit, digits: a.currencyDigits))\"")
      // Only when set (an account a CRM command opened carries its TT# mark here).
      if !a.comment.isEmpty { out.raw(",\"comment\":"); out.string(a.comment) }
      out.raw("}")
    }
    out.raw("],\n")
    switch configuration.platform {
    case .mt5: writeMT5(shards, into: &out)
    case .mt4: writeMT4(shards, into: &out)
    }
    out.raw("}\n")
  }

  static func writeMT5(_ shards: [ServerShard], into out: inout JSONOut) {
    var deals: [Deal] = []
    var positions: [Position] = []
    for shard in shards {
      guard case .mt5(let server) = shard.server else { continue }
      deals += server.deals
      positions += server.positions.values
    }
    deals.sort { $0.deal < $1.deal }
    positions.sort { $0.position < $1.position }
    out.raw("\"deals\":[")
    for (i, d) in deals.enumerated() {
      out.raw(i == 0 ? "\n" : ",\n")
      out.raw("{\"deal\":\(d.deal),\"login\":\(d.login),\"order\":\(d.order),\"position_id\":\(d.positionID)")
      out.raw(",\"action\":\(d.action.rawValue),\"entry\":\(d.entry.rawValue),\"reason\":\(d.reason),\"symbol\":")
      out.string(d.symbol)
      out.raw(",\"digits\":\(d.digits),\"price\":\"\(Money.decimalString(d.pricePoints, digits: d.digits))\"")
      out.raw(",\"volume_ext\":\(d.volumeExt)")
      let c = d.currencyDigits
      out.raw(",\"profit\":\"\(Money.decimalString(d.profit, digits: c))\",\"commission\":\"\(Money.decimalString(d.commission, digits: c))\"")
      out.raw(",\"storage\":\"\(Money.decimalString(d.storage, digits: c))\",\"fee\":\"\(Money.decimalString(d.fee, digits: c))\"")
      out.raw(",\"time_msc\":\(d.timeMsc),\"comment\":"); out.string(d.comment)
      if !d.externalID.isEmpty { out.raw(",\"external_id\":"); out.string(d.externalID) }
      out.raw("}")
    }
    out.raw("],\n\"positions\":[")
    for (i, p) in positions.enumerated() {
      out.raw(i == 0 ? "\n" : ",\n")
      out.raw("{\"position\":\(p.position),\"login\":\(p.login),\"symbol\":"); out.string(p.symbol)
      out.raw(",\"action\":\(p.isBuy ? 0 : 1),\"digits\":\(p.digits),\"volume_ext\":\(p.volumeExt)")
      // Prices round half away from zero at the symbol's digits, as the ledger rounds them.
      let priceOpen = Int64((p.priceOpen * Money.doublePowers[p.digits]).rounded(.toNearestOrAwayFromZero))
      out.raw(",\"price_open\":\"\(Money.decimalString(priceOpen, digits: p.digits))\"")
      out.raw(",\"storage\":\"\(Money.decimalString(p.storage, digits: p.currencyDigits))\"}")
    }
    out.raw("]\n")
  }

  static func writeMT4(_ shards: [ServerShard], into out: inout JSONOut) {
    var open: [(TradeRecord, Int)] = []
    var history: [(TradeRecord, Int)] = []
    for shard in shards {
      guard case .mt4(let server) = shard.server else { continue }
      for trade in server.openTrades.values {
        open.append((trade, server.accounts[UInt64(trade.login)]?.currencyDigits ?? 2))
      }
      for trade in server.history {
        history.append((trade, server.accounts[UInt64(trade.login)]?.currencyDigits ?? 2))
      }
    }
    open.sort { $0.0.ticket < $1.0.ticket }
    history.sort { $0.0.ticket < $1.0.ticket }
    out.raw("\"trades\":[")
    for (i, (t, c)) in open.enumerated() {
      out.raw(i == 0 ? "\n" : ",\n")
      trade(t, currencyDigits: c, closed: false, into: &out)
    }
    out.raw("],\n\"history\":[")
    for (i, (t, c)) in history.enumerated() {
      out.raw(i == 0 ? "\n" : ",\n")
      trade(t, currencyDigits: c, closed: true, into: &out)
    }
    out.raw("]\n")
  }

  static func trade(_ t: TradeRecord, currencyDigits c: Int, closed: Bool, into out: inout JSONOut) {
    out.raw("{\"ticket\":\(t.ticket),\"login\":\(t.login),\"symbol\":"); out.string(t.symbol)
    out.raw(",\"cmd\":\(t.cmd),\"volume\":\(t.volume),\"digits\":\(t.digits)")
    out.raw(",\"open_price\":\"\(Money.decimalString(t.openPricePoints, digits: t.digits))\",\"open_time\":\(t.openTime)")
    out.raw(",\"sl\":\"\(Money.decimalString(t.slPoints, digits: t.digits))\",\"tp\":\"\(Money.decimalString(t.tpPoints, digits: t.digits))\"")
    if closed {
      out.raw(",\"close_price\":\"\(Money.decimalString(t.closePricePoints, digits: t.digits))\",\"close_time\":\(t.closeTime)")
    }
    out.raw(",\"commission\":\"\(Money.decimalString(t.commission, digits: c))\",\"storage\":\"\(Money.decimalString(t.storage, digits: c))\"")
    out.raw(",\"profit\":\"\(Money.decimalString(t.profit, digits: c))\",\"comment\":"); out.string(t.comment); out.raw("}")
  }
}

/// A buffered JSON text writer.
struct JSONOut {
  let handle: FileHandle?
  var buffer = ""

  init(handle: FileHandle?) {
    self.handle = handle
    buffer.reserveCapacity(1 << 20)
  }

  mutating func raw(_ text: String) {
    buffer += text
    if handle != nil, buffer.utf8.count >= 1 << 20 { flush() }
  }

  mutating func string(_ text: String) {
    buffer += "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": buffer += "\\\""
      case "\\": buffer += "\\\\"
      case "\n": buffer += "\\n"
      case "\r": buffer += "\\r"
      case "\t": buffer += "\\t"
      case _ where scalar.value < 0x20: buffer += String(format: "\\u%04x", scalar.value)
      default: buffer.unicodeScalars.append(scalar)
      }
    }
    buffer += "\""
  }

  mutating func flush() {
    guard let handle, !buffer.isEmpty else { return }
    handle.write(Data(buffer.utf8))
    buffer.removeAll(keepingCapacity: true)
  }
}
