import Foundation
import Testing
import TradeTapEvents
import TradeTapLedger
import TradeTapLedgerPostgres

/// The gateway tables (docs/gateway.md, "The ledger"): a gateway's requests, answers
/// and executions become rows on their platform keys, written once, and the same
/// events leave the same rows in SQLite and PostgreSQL.
@Suite("Gateway ledger: requests, answers and executions on their platform keys", .serialized)
struct GatewayLedgerTests {
  static let gateway: UInt32 = 501
  static func money(_ text: String) -> ExactDecimal { ExactDecimal(text)! }
  static func time(_ ms: Int64) -> BrokerTime { BrokerTime(brokerMilliseconds: 1_764_000_000_000 + ms, utcOffsetMinutes: 120) }
  static func event(_ seq: UInt64, _ kind: RecordKind, _ body: GatewayEvent) -> Event {
    Event(serverId: gateway, sequence: seq, kind: kind, hookTimestampNanos: seq, utcOffsetMinutes: 120, body: .gateway(body))
  }

  static func request(_ seq: UInt64, server: UInt32, request: UInt64, at ms: Int64) -> Event {
    event(seq, .dealerLock, .request(TradeRequest(
      requestId: request, serverId: server, login: 10_003, group: "real\\hedging", symbol: "EURUSD", digits: 5,
      action: .market, type: 0, flags: 0, volumeExt: 3_000_000, order: 5_000_000 + request, positionId: 0,
      priceOrder: money("1.08420"), priceSL: money("0.00000"), priceTP: money("0.00000"), priceBid: money("1.08410"),
      priceAsk: money("1.08420"), time: time(ms), comment: "")))
  }

  static func answer(_ seq: UInt64, server: UInt32, request: UInt64, retcode: Int32, at ms: Int64) -> Event {
    event(seq, .dealerAnswer, .answer(DealerAnswer(
      requestId: request, serverId: server, retcode: retcode, order: 5_000_000 + request, deal: 0, volumeExt: 0,
      price: money("0"), priceBid: money("1.0841"), priceAsk: money("1.0842"), time: time(ms),
      comment: retcode == 10008 ? "placed" : "rejected")))
  }

  static func execution(
    _ seq: UInt64, id: UInt64, server: UInt32 = 1, request: UInt64, volume: UInt64, remaining: UInt64,
    price: String, reject: Bool = false, at ms: Int64
  ) -> Event {
    event(seq, .execution, .execution(Execution(
      executionId: id, serverId: server, action: reject ? .orderReject : .orderFill, flags: 0, requestId: request,
      login: 10_003, group: "real\\hedging", symbol: "EURUSD", digits: 5, order: 5_000_000 + request,
      orderExternalId: "LPO-\(server)-\(request)", orderType: .buy, orderVolumeExt: 3_000_000,
      orderPrice: money("1.08420"), dealExternalId: reject ? "" : "LP501-\(id)", dealAction: .buy,
      dealVolumeExt: volume, dealVolumeRemainingExt: remaining, dealPrice: money(price), priceGateway: money(price),
      dealCommission: money("0.35"), positionId: 0, externalRetcode: reject ? 10006 : 0, time: time(ms), comment: "")))
  }

  static func ack(_ seq: UInt64, server: UInt32, through id: UInt64) -> Event {
    event(seq, .executionAck, .executionAck(ExecutionAck(serverId: server, executionId: id)))
  }

  /// The first commit: server 1's request 100 filled in two executions, server 2's
  /// request 100 (the same id on another server) answered with a reject, an ack.
  static let first: [Event] = [
    request(1, server: 1, request: 100, at: 0),
    answer(2, server: 1, request: 100, retcode: 10008, at: 12),
    execution(3, id: 1, request: 100, volume: 1_000_000, remaining: 2_000_000, price: "1.08430", at: 40),
    execution(4, id: 2, request: 100, volume: 2_000_000, remaining: 0, price: "1.08440", at: 55),
    ack(5, server: 1, through: 2),
    request(6, server: 2, request: 100, at: 60),
    answer(7, server: 2, request: 100, retcode: 10006, at: 61),
  ]
  /// Later: execution 2 tapped again under a new sequence (with another price: the
  /// first row stays), request 100 locked again (a resent request), answered again
  /// (its own row), then two executions out of order in the batch.
  static let later: [[Event]] = [
    [execution(8, id: 2, request: 100, volume: 2_000_000, remaining: 0, price: "9.99999", at: 900),
     request(9, server: 1, request: 100, at: 901), answer(10, server: 1, request: 100, retcode: 10008, at: 902)],
    [execution(12, id: 4, request: 101, volume: 0, remaining: 0, price: "0", reject: true, at: 1_000),
     execution(11, id: 3, request: 102, volume: 500_000, remaining: 0, price: "1.10000", at: 990)],
  ]

  static let dumps: [String] = [
    "SELECT * FROM gateway_requests ORDER BY gateway_id, server_id, request_id",
    "SELECT * FROM gateway_answers ORDER BY gateway_id, server_id, request_id, seq",
    "SELECT * FROM executions ORDER BY gateway_id, execution_id",
    "SELECT server_id, seq, kind, summary FROM events ORDER BY server_id, seq",
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

  /// Commits every batch to both ledgers; returns the dumps after the first commit's replay.
  static func feed(_ sqlite: Ledger, _ postgres: PostgresLedger) async throws {
    let firstBatch = LedgerBatch(serverId: gateway, events: first)
    _ = try sqlite.commit([firstBatch], reportedGaps: [])
    _ = try await postgres.commitAsync([firstBatch])
    let (beforeLite, beforePG) = (try await dump(sqlite), try await dump(postgres))
    // A replayed batch changes nothing.
    let replayLite = try sqlite.commit([firstBatch], reportedGaps: [])
    let replayPG = try await postgres.commitAsync([firstBatch])
    #expect(replayLite.appliedEvents == 0 && replayLite.duplicateEvents == first.count)
    #expect(replayLite == replayPG)
    #expect(try await dump(sqlite) == beforeLite)
    #expect(try await dump(postgres) == beforePG)
    for events in later {
      let batch = LedgerBatch(serverId: gateway, events: events)
      let a = try sqlite.commit([batch], reportedGaps: [])
      let b = try await postgres.commitAsync([batch])
      #expect(a == b)
    }
  }

  @Test func gatewayEventsBecomeRowsOnceAndBothBackendsHoldTheSameRows() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sqlite = try Ledger(path: folder + "/ledger.sqlite")
    let database = try await TestPostgres.createDatabase()
    let postgres = try await PostgresLedger.open(url: database.url)
    do {
      try await Self.feed(sqlite, postgres)
      let (left, right) = (try await Self.dump(sqlite), try await Self.dump(postgres))
      #expect(left.count == right.count)
      for (l, r) in zip(left, right) { #expect(l == r) }
      for ledger in [sqlite as any LedgerStore, postgres] {
        #expect(try await ledger.rowCount(.gatewayRequests) == 2, "\(ledger.backendName): one row per (server, request)")
        #expect(try await ledger.rowCount(.gatewayAnswers) == 3, "\(ledger.backendName): each answer its own row")
        #expect(try await ledger.rowCount(.executions) == 4, "\(ledger.backendName): one row per execution id")
        let executions = try await TestLedgerReader.records(
          ledger, "SELECT execution_id, deal_price, deal_commission, seq FROM executions ORDER BY execution_id")
        #expect(executions.map { $0.integer("execution_id") } == [1, 2, 3, 4])
        #expect(executions.map { $0.text("deal_price") } == ["1.08430", "1.08440", "1.10000", "0"])
        #expect(executions[1].integer("seq") == 4, "\(ledger.backendName): the first tap of execution 2 stays")
        #expect(executions[0].text("deal_commission") == "0.35")
        let request = try await TestLedgerReader.records(
          ledger, "SELECT time_msc, seq, price_bid FROM gateway_requests WHERE server_id = 1 AND request_id = 100")
        #expect(request.first?.integer("seq") == 1, "\(ledger.backendName): the first lock stays")
        #expect(request.first?.text("price_bid") == "1.08410")
        // The change feed carries every gateway event, an execution re-tapped under a new sequence too.
        let changes = try await LedgerQueries(ledger: ledger).changes(afterId: 0, limit: 100)
        #expect(changes.filter { $0.text("kind") == "execution" }.compactMap { $0.integer("seq") } == [3, 4, 8, 11, 12])
        #expect(changes.count == Self.first.count + Self.later.joined().count)
      }
    } catch {
      await postgres.close()
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    await postgres.close()
    try await TestPostgres.dropDatabase(database)
  }

  @Test func theGatewayListingAndItsExecutionPagesAgreeOnBothBackends() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sqlite = try Ledger(path: folder + "/ledger.sqlite")
    let database = try await TestPostgres.createDatabase()
    let postgres = try await PostgresLedger.open(url: database.url)
    do {
      try await Self.feed(sqlite, postgres)
      for ledger in [sqlite as any LedgerStore, postgres] {
        let queries = LedgerQueries(ledger: ledger)
        let gateways = try await queries.gateways()
        #expect(gateways.count == 1)
        let g = try #require(gateways.first)
        #expect(g.integer("gateway_id") == 501)
        #expect(g.integer("last_seq") == 12)
        #expect(g.integer("requests") == 2 && g.integer("answers") == 3 && g.integer("executions") == 4)
        #expect(g.integer("fills") == 3 && g.integer("rejects") == 1 && g.integer("last_execution_id") == 4)
        #expect(g.text("last_event_kind") == "execution")
        let page1 = try await queries.gatewayExecutions(gatewayId: 501, after: 0, fromUTC: nil, toUTC: nil, limit: 3)
        #expect(page1.records.map { $0.integer("execution_id") } == [1, 2, 3])
        #expect(page1.nextCursor == 3)
        let page2 = try await queries.gatewayExecutions(gatewayId: 501, after: 3, fromUTC: nil, toUTC: nil, limit: 3)
        #expect(page2.records.map { $0.integer("execution_id") } == [4])
        #expect(page2.nextCursor == nil)
        #expect(try await queries.gatewayExecutions(gatewayId: 7, after: 0, fromUTC: nil, toUTC: nil, limit: 3).records.isEmpty)
      }
    } catch {
      await postgres.close()
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    await postgres.close()
    try await TestPostgres.dropDatabase(database)
  }

  @Test func executionQualityIsMeasuredFromTheTablesTheSameOnBothBackends() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sqlite = try Ledger(path: folder + "/ledger.sqlite")
    let database = try await TestPostgres.createDatabase()
    let postgres = try await PostgresLedger.open(url: database.url)
    do {
      try await Self.feed(sqlite, postgres)
      var results: [ExecutionQuality] = []
      for ledger in [sqlite as any LedgerStore, postgres] {
        let q = try await LedgerQueries(ledger: ledger).executionQuality(
          gatewayId: 501, fromUTC: nil, toUTC: nil, symbol: "EURUSD")
        // Server 1's request 100 (placed at +12 ms, filled at +40 and +55 ms at 1.08430
        // and 1.08440 against an ask of 1.08420) and server 2's (rejected at +1 ms).
        #expect(q.requests == 2 && q.rejected == 1 && q.rejectRate == 0.5)
        #expect(q.requestToAnswerMs.count == 2 && q.requestToAnswerMs.p50 == 1 && q.requestToAnswerMs.p99 == 12)
        #expect(q.answerToFirstFillMs.count == 1 && q.answerToFirstFillMs.p50 == 28)
        #expect(q.requestToFinalFillMs.count == 1 && q.requestToFinalFillMs.p90 == 55)
        #expect(q.slippagePoints.count == 2 && q.slippagePoints.mean == 15 && q.slippagePoints.p99 == 20)
        results.append(q)
        let none = try await LedgerQueries(ledger: ledger).executionQuality(
          gatewayId: 501, fromUTC: nil, toUTC: nil, symbol: "GBPUSD")
        #expect(none.requests == 0 && none.slippagePoints.count == 0 && none.rejectRate == 0)
      }
      #expect(results[0] == results[1])
    } catch {
      await postgres.close()
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    await postgres.close()
    try await TestPostgres.dropDatabase(database)
  }

  @Test func pointsAreExactAtTheRecordsDigits() {
    #expect(ExecutionQuality.points("1.08423", digits: 5) == 108_423)
    #expect(ExecutionQuality.points("1.0842", digits: 5) == 108_420)
    #expect(ExecutionQuality.points("1.084230", digits: 5) == 108_423)
    #expect(ExecutionQuality.points("1.084231", digits: 5) == nil)
    #expect(ExecutionQuality.points("150", digits: 3) == 150_000)
    #expect(ExecutionQuality.points("x", digits: 3) == nil)
  }
}
