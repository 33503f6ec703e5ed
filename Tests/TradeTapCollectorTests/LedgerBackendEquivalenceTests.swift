import Foundation
import Testing
import TradeTapEvents
import TradeTapLedger
import TradeTapLedgerPostgres

/// The same batches into a SQLite ledger and a PostgreSQL ledger leave the same rows,
/// table by table (times of receipt aside): PostgreSQL's batched statements
/// (docs/ledger.md, "PostgreSQL") keep SQLite's event-by-event rules. Each scenario is
/// a rule those statements could break: order within a batch, replays, positions
/// closed and reopened, MT4 partial account rows, duplicates, gaps.
@Suite("Ledger backends: the same events leave the same rows in SQLite and PostgreSQL", .serialized)
struct LedgerBackendEquivalenceTests {
  static let server: UInt32 = 7
  static func money(_ text: String) -> ExactDecimal { ExactDecimal(text)! }
  static func time(_ ms: Int64) -> BrokerTime { BrokerTime(brokerMilliseconds: 1_764_000_000_000 + ms, utcOffsetMinutes: 120) }
  static func event(_ seq: UInt64, _ kind: RecordKind, _ body: EventBody) -> Event {
    Event(serverId: server, sequence: seq, kind: kind, hookTimestampNanos: seq, utcOffsetMinutes: 120, body: body)
  }

  static func user(_ login: UInt64, balance: String, seq: UInt64, kind: RecordKind = .userUpdate) -> Event {
    event(seq, kind, .user(User(
      login: login, group: "real\\usd", name: "Client \(login)", email: "c\(login)@example.com", country: "CY",
      currency: "USD", currencyDigits: 2, leverage: 100, marginMode: .retailHedging, balance: money(balance),
      credit: money("0.00"), registration: time(0), lastUpdate: time(Int64(seq)), comment: "")))
  }

  static func deal(_ ticket: UInt64, action: DealAction = .buy, profit: String = "0.00", seq: UInt64,
                   kind: RecordKind = .dealAdd) -> Event {
    event(seq, kind, .deal(Deal(
      deal: ticket, externalId: "", login: 1001, order: 500, positionId: 900, action: action, entry: .in, reason: 0,
      symbol: action.isBalanceOperation ? "" : "EURUSD", digits: 5, currencyDigits: 2, time: time(Int64(seq) * 1000),
      price: money("1.08345"), volumeExt: 100_000_000, contractSize: money("100000"), profit: money(profit),
      commission: money("-0.70"), storage: money("0.00"), fee: money("0.00"), comment: "")))
  }

  static func position(_ ticket: UInt64, volumeExt: UInt64, seq: UInt64, kind: RecordKind) -> Event {
    event(seq, kind, .position(Position(
      position: ticket, login: 1001, symbol: "EURUSD", action: .buy, digits: 5, volumeExt: volumeExt,
      priceOpen: money("1.08345"), priceCurrent: money("1.08400"), profit: money("5.50"), storage: money("0.00"),
      timeCreate: time(0), timeUpdate: time(Int64(seq)), comment: "")))
  }

  static func order(_ ticket: UInt64, state: OrderState, seq: UInt64, kind: RecordKind) -> Event {
    event(seq, kind, .order(Order(
      order: ticket, externalId: "", login: 1001, symbol: "EURUSD", type: .buyLimit, state: state, reason: 0,
      digits: 5, priceOrder: money("1.08000"), priceSL: money("0.00000"), priceTP: money("0.00000"),
      volumeInitialExt: 100_000_000, volumeCurrentExt: 100_000_000, positionId: 0, timeSetup: time(0),
      timeDone: kind == .orderDelete ? time(5000) : nil, comment: "")))
  }

  static func trade(_ ticket: Int32, command: TradeCommand, profit: String, closed: Bool = false,
                    balance: String? = nil, seq: UInt64) -> Event {
    let user = balance.map {
      TradeUserInfo(login: 2002, group: "real\\mt4", name: "MT4 client", leverage: 200, balance: money($0),
                    credit: money("0.00"))
    }
    return event(seq, .tradeAdd, .trade(Trade(
      ticket: ticket, login: 2002, symbol: command.rawValue >= 6 ? "" : "EURUSD", digits: 5, command: command,
      volume: command.rawValue >= 6 ? 0 : 100, openTime: time(0), state: 0, openPrice: money("1.08345"),
      sl: money("0.00000"), tp: money("0.00000"), closeTime: closed ? time(60_000) : nil,
      closePrice: money("0.00000"), commission: money("0.00"), storage: money("0.00"), profit: money(profit),
      taxes: money("0.00"), magic: 0, comment: "", timestamp: time(60_000), user: user, mode: .add(.new))))
  }

  /// Scenarios: each a list of commits, each commit a list of batches of one server.
  static let scenarios: [(String, [[[Event]]])] = [
    ("out of order in a batch, then an older replay", [
      [[user(1001, balance: "300.00", seq: 3), user(1001, balance: "100.00", seq: 1),
        user(1001, balance: "200.00", seq: 2)]],
      [[user(1001, balance: "50.00", seq: 2)]],
    ]),
    ("deals updated and deleted in one batch, balance operations, duplicates", [
      [[deal(10, action: .balance, profit: "1000.00", seq: 1), deal(11, seq: 2), deal(11, profit: "5.00", seq: 3,
        kind: .dealUpdate), deal(10, action: .balance, profit: "1000.00", seq: 4, kind: .dealDelete)],
       [deal(11, seq: 2), deal(12, action: .credit, profit: "200.00", seq: 5)]],
      [[deal(12, action: .credit, profit: "250.00", seq: 5), deal(13, seq: 6)]],
    ]),
    ("positions opened, closed, reopened, replayed", [
      [[position(901, volumeExt: 100_000_000, seq: 1, kind: .positionAdd),
        position(902, volumeExt: 100_000_000, seq: 2, kind: .positionAdd),
        position(901, volumeExt: 50_000_000, seq: 3, kind: .positionUpdate),
        position(902, volumeExt: 0, seq: 4, kind: .positionDelete),
        position(903, volumeExt: 10_000_000, seq: 5, kind: .positionAdd),
        position(903, volumeExt: 0, seq: 6, kind: .positionDelete),
        position(903, volumeExt: 20_000_000, seq: 7, kind: .positionAdd)]],
      [[position(904, volumeExt: 1_000_000, seq: 8, kind: .positionAdd)]],
      [[position(904, volumeExt: 0, seq: 9, kind: .positionDelete), position(901, volumeExt: 0, seq: 10, kind: .positionDelete)]],
    ]),
    ("orders placed and moved to history", [
      [[order(800, state: .placed, seq: 1, kind: .orderAdd), order(800, state: .canceled, seq: 2, kind: .orderDelete),
        order(801, state: .placed, seq: 3, kind: .orderAdd)]],
    ]),
    ("MT4 trades with partial account rows after full ones, and a gap", [
      [[user(2002, balance: "10.00", seq: 1, kind: .userAdd), trade(70, command: .buy, profit: "0.00", balance: "20.00", seq: 2),
        user(2002, balance: "30.00", seq: 3), trade(71, command: .balance, profit: "500.00", closed: true,
        balance: "530.00", seq: 4), trade(70, command: .buy, profit: "12.50", closed: true, balance: "542.50", seq: 8)]],
      [[trade(72, command: .credit, profit: "100.00", closed: true, seq: 9)]],
    ]),
  ]

  /// Every table's rows in a stable order, without times of receipt and generated ids.
  static let dumps: [String] = [
    "SELECT id, name, platform, utc_offset_minutes, last_seq FROM servers ORDER BY id",
    "SELECT * FROM accounts ORDER BY server_id, login",
    "SELECT * FROM deals ORDER BY server_id, deal",
    "SELECT * FROM orders ORDER BY server_id, \"order\"",
    "SELECT * FROM positions ORDER BY server_id, position",
    "SELECT * FROM position_closures ORDER BY server_id, position",
    "SELECT * FROM trades ORDER BY server_id, ticket",
    "SELECT * FROM balance_operations ORDER BY server_id, ticket",
    "SELECT server_id, seq, kind, time_msc, time_utc, summary FROM events ORDER BY server_id, seq",
    "SELECT server_id, first_seq, last_seq, reason FROM gaps ORDER BY server_id, first_seq",
    "SELECT server_id, seq FROM changes ORDER BY id",
  ]

  static func dump(_ ledger: any LedgerStore) async throws -> [String] {
    var lines: [String] = []
    for sql in dumps {
      for record in try await TestLedgerReader.records(ledger, sql) {
        lines.append(record.fields.map { "\($0.name)=\($0.value)" }.joined(separator: " "))
      }
    }
    return lines
  }

  @Test(arguments: scenarios.indices)
  func theSameEventsLeaveTheSameRows(scenario: Int) async throws {
    let (name, commits) = Self.scenarios[scenario]
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sqlite = try Ledger(path: folder + "/ledger.sqlite")
    let database = try await TestPostgres.createDatabase()
    let postgres = try await PostgresLedger.open(url: database.url)
    var results: [(LedgerCommit, LedgerCommit)] = []
    do {
      for batches in commits {
        let ledgerBatches = batches.map { LedgerBatch(serverId: Self.server, events: $0) }
        let a = try sqlite.commit(ledgerBatches, reportedGaps: [])
        let b = try await postgres.commitAsync(ledgerBatches)
        results.append((a, b))
      }
      let (left, right) = (try await Self.dump(sqlite), try await Self.dump(postgres))
      #expect(left.count >= 8, "\(name): the scenario wrote rows")
      #expect(left.count == right.count, "\(name)")
      for (l, r) in zip(left, right) { #expect(l == r, "\(name)") }
      for (a, b) in results { #expect(a == b, "\(name): commit counts") }
    } catch {
      await postgres.close()
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    await postgres.close()
    try await TestPostgres.dropDatabase(database)
  }
}
