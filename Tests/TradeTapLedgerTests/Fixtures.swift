import Foundation
import TradeTapEvents
import TradeTapLedger

/// Builders for realistic events of one trade server (MT5 deals, users, MT4 trades).
enum Fixtures {
  static let serverId: UInt32 = 7
  static let offset: Int32 = 120
  static let dayStart: Int64 = 1_764_000_000_000  // broker ms

  static func money(_ text: String) -> ExactDecimal { ExactDecimal(text)! }
  static func time(_ ms: Int64) -> BrokerTime { BrokerTime(brokerMilliseconds: dayStart + ms, utcOffsetMinutes: offset) }

  static func event(_ seq: UInt64, _ kind: RecordKind, _ body: EventBody, server: UInt32 = serverId) -> Event {
    Event(serverId: server, sequence: seq, kind: kind, hookTimestampNanos: seq, utcOffsetMinutes: offset, body: body)
  }

  static func user(
    _ login: UInt64, balance: String, credit: String = "0.00", seq: UInt64, kind: RecordKind = .userUpdate
  ) -> Event {
    event(seq, kind, .user(User(
      login: login, group: "real\\usd", name: "Client \(login)", email: "c\(login)@example.com",
      country: "CY", currency: "USD", currencyDigits: 2, leverage: 100, marginMode: .retailHedging,
      balance: money(balance), credit: money(credit), registration: time(0), lastUpdate: time(Int64(seq)),
      comment: "")))
  }

  static func deal(
    _ ticket: UInt64, login: UInt64 = 1001, action: DealAction = .buy, entry: DealEntry = .in,
    order: UInt64 = 500, position: UInt64 = 900, volumeExt: UInt64 = 100_000_000, profit: String = "0.00",
    comment: String = "", seq: UInt64, kind: RecordKind = .dealAdd, server: UInt32 = serverId
  ) -> Event {
    event(seq, kind, .deal(Deal(
      deal: ticket, externalId: "", login: login, order: order, positionId: position, action: action,
      entry: entry, reason: 0, symbol: action.isBalanceOperation ? "" : "EURUSD", digits: 5, currencyDigits: 2,
      time: time(Int64(seq) * 1000), price: money("1.08345"), volumeExt: volumeExt, contractSize: money("100000"),
      profit: money(profit), commission: money("-0.70"), storage: money("0.00"), fee: money("0.00"),
      comment: comment)), server: server)
  }

  static func position(_ ticket: UInt64, login: UInt64 = 1001, volumeExt: UInt64, seq: UInt64, kind: RecordKind) -> Event {
    event(seq, kind, .position(Position(
      position: ticket, login: login, symbol: "EURUSD", action: .buy, digits: 5, volumeExt: volumeExt,
      priceOpen: money("1.08345"), priceCurrent: money("1.08400"), profit: money("5.50"), storage: money("0.00"),
      timeCreate: time(0), timeUpdate: time(Int64(seq)), comment: "")))
  }

  static func mt4Trade(
    _ ticket: Int32, login: Int32 = 2002, command: TradeCommand, profit: String, comment: String = "",
    closed: Bool = false, user: TradeUserInfo? = nil, mode: TradeMode = .add(.new), seq: UInt64,
    kind: RecordKind = .tradeAdd
  ) -> Event {
    event(seq, kind, .trade(Trade(
      ticket: ticket, login: login, symbol: command.rawValue >= 6 ? "" : "EURUSD", digits: 5, command: command,
      volume: command.rawValue >= 6 ? 0 : 100, openTime: time(0), state: 0, openPrice: money("1.08345"),
      sl: money("0.00000"), tp: money("0.00000"), closeTime: closed ? time(60_000) : nil,
      closePrice: money("0.00000"), commission: money("0.00"), storage: money("0.00"), profit: money(profit),
      taxes: money("0.00"), magic: 0, comment: comment, timestamp: time(60_000), user: user, mode: mode)))
  }

  /// A fresh ledger in its own temporary folder (a real SQLite file).
  static func ledger(_ name: String = #function) throws -> (Ledger, String) {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("tradetap-ledger-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("ledger.sqlite").path
    return (try Ledger(path: path), path)
  }
}
