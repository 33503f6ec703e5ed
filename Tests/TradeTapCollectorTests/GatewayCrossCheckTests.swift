import Foundation
import Testing
import TradeTapEvents
import TradeTapLedger
import TradeTapLedgerPostgres

/// The gateway cross-check (docs/reconciliation.md, "Gateway against server"): every
/// fill against the server's deals and every deal on a routed order against the
/// fills, in SQL, on both backends; mismatches recorded once, never corrected.
@Suite("Gateway cross-check: fills against deals, both backends", .serialized)
struct GatewayCrossCheckTests {
  typealias G = GatewayLedgerTests
  static let server: UInt32 = 1

  static func deal(_ seq: UInt64, deal: UInt64, request: UInt64, externalId: String, volume: UInt64, price: String)
    -> Event
  {
    Event(serverId: server, sequence: seq, kind: .dealAdd, hookTimestampNanos: seq, utcOffsetMinutes: 120, body: .deal(Deal(
      deal: deal, externalId: externalId, login: 10_003, order: 5_000_000 + request, positionId: 7_000 + deal,
      action: .buy, entry: .in, reason: 0, symbol: "EURUSD", digits: 5, currencyDigits: 2, time: G.time(Int64(seq)),
      price: G.money(price), volumeExt: volume, contractSize: G.money("100000"), profit: G.money("0.00"),
      commission: G.money("-0.35"), storage: G.money("0.00"), fee: G.money("0.00"), comment: "")))
  }

  /// Gateway 501: request 100 filled twice (both booked; the first deal's price has
  /// another scale, "1.0843" for "1.08430": equal), request 101 filled and never
  /// booked, 102 booked with another volume, 103 with another price, 104 routed and
  /// never filled while the server booked a deal on its order anyway.
  static let gatewayEvents: [Event] = [
    G.request(1, server: server, request: 100, at: 0),
    G.execution(2, id: 1, request: 100, volume: 1_000_000, remaining: 2_000_000, price: "1.08430", at: 40),
    G.execution(3, id: 2, request: 100, volume: 2_000_000, remaining: 0, price: "1.08440", at: 55),
    G.request(4, server: server, request: 101, at: 60),
    G.execution(5, id: 3, request: 101, volume: 500_000, remaining: 0, price: "1.10000", at: 70),
    G.request(6, server: server, request: 102, at: 80),
    G.execution(7, id: 4, request: 102, volume: 1_000_000, remaining: 0, price: "1.20000", at: 90),
    G.request(8, server: server, request: 103, at: 100),
    G.execution(9, id: 5, request: 103, volume: 1_000_000, remaining: 0, price: "1.30000", at: 110),
    G.request(10, server: server, request: 104, at: 120),
  ]
  static let serverEvents: [Event] = [
    deal(1, deal: 1, request: 100, externalId: "LP501-1", volume: 1_000_000, price: "1.0843"),
    deal(2, deal: 2, request: 100, externalId: "LP501-2", volume: 2_000_000, price: "1.08440"),
    deal(3, deal: 4, request: 102, externalId: "LP501-4", volume: 900_000, price: "1.20000"),
    deal(4, deal: 5, request: 103, externalId: "LP501-5", volume: 1_000_000, price: "1.30010"),
    deal(5, deal: 6, request: 104, externalId: "LP501-99", volume: 1_000_000, price: "1.40000"),
  ]
  /// Planted later: a fill the server never booked.
  static let planted = G.execution(11, id: 6, request: 100, volume: 300_000, remaining: 0, price: "1.08450", at: 200)

  struct Found: Equatable, CustomStringConvertible {
    var subject: String, key: Int64, kind: String, deal: String?, fill: String?
    var description: String { "\(subject) \(key) \(kind) deal=\(deal ?? "nil") fill=\(fill ?? "nil")" }
  }

  static func found(_ check: GatewayCrossCheck) -> [Found] {
    check.mismatches.map { Found(subject: $0.subject, key: $0.key, kind: $0.kind.rawValue, deal: $0.dealValue, fill: $0.fillValue) }
  }

  static let expected: [Found] = [
    Found(subject: "deal", key: 6, kind: "deal without fill", deal: "LP501-99", fill: nil),
    Found(subject: "execution", key: 3, kind: "fill without deal", deal: nil, fill: "LP501-3"),
    Found(subject: "execution", key: 4, kind: "volume mismatch", deal: "900000", fill: "1000000"),
    Found(subject: "execution", key: 5, kind: "price mismatch", deal: "1.30010", fill: "1.30000"),
  ]

  static let books = [
    "SELECT server_id, deal, external_id, \"order\", volume_ext, price, deleted, updated_seq FROM deals ORDER BY server_id, deal",
    "SELECT gateway_id, execution_id, deal_external_id, deal_volume_ext, deal_price FROM executions ORDER BY 1, 2",
    "SELECT server_id, position FROM positions ORDER BY 1, 2",
  ]

  static func dump(_ ledger: any LedgerStore, _ sqls: [String]) async throws -> [String] {
    var lines: [String] = []
    for sql in sqls {
      for record in try await TestLedgerReader.records(ledger, sql) {
        lines.append(record.fields.map { "\($0.name)=\($0.value)" }.joined(separator: " "))
      }
    }
    return lines
  }

  static func divergences(_ ledger: any LedgerStore) async throws -> [String] {
    try await dump(ledger, ["""
      SELECT s.server_id AS gateway, v.server_id, v.subject, v."key", v.field, v.ledger_value, v.platform_value,
             v.correction, v.status
      FROM reconciliation_divergences v JOIN reconciliation_sweeps s ON s.id = v.sweep_id ORDER BY v.id
      """])
  }

  @Test func plantedMismatchesAreFoundOnceNeverCorrectedAndYoungFillsWait() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sqlite = try Ledger(path: folder + "/ledger.sqlite")
    let database = try await TestPostgres.createDatabase()
    let postgres = try await PostgresLedger.open(url: database.url)
    do {
      let batches = [LedgerBatch(serverId: G.gateway, events: Self.gatewayEvents),
                     LedgerBatch(serverId: Self.server, events: Self.serverEvents)]
      _ = try sqlite.commit(batches, reportedGaps: [])
      _ = try await postgres.commitAsync(batches)
      let ledgers: [any LedgerStore] = [sqlite, postgres]
      var booksBefore: [[String]] = []
      for ledger in ledgers {
        let name = ledger.backendName
        booksBefore.append(try await Self.dump(ledger, Self.books))
        // Everything was received just now: a grace of an hour compares nothing.
        let held = try await ledger.crossCheckGateways(grace: .seconds(3600))
        #expect(held.mismatches.isEmpty && held.recorded == 0 && held.fillsCompared == 0, "\(name)")
        // No grace: the four planted mismatches, recorded as reported.
        let first = try await ledger.crossCheckGateways(grace: .zero)
        #expect(Self.found(first) == Self.expected, "\(name): \(Self.found(first))")
        #expect(first.recorded == 4 && first.fillsCompared == 5, "\(name): \(first.recorded) recorded")
        #expect(first.counts == [.fillWithoutDeal: 1, .fillWithSeveralDeals: 0, .volumeMismatch: 1, .priceMismatch: 1,
                                 .dealWithoutFill: 1], "\(name)")
        #expect(first.mismatches.allSatisfy { !$0.recordedBefore && $0.gatewayId == 501 && $0.serverId == 1 })
        // The next run finds them again and records nothing new.
        let second = try await ledger.crossCheckGateways(grace: .zero)
        #expect(Self.found(second) == Self.expected && second.recorded == 0, "\(name)")
        #expect(second.mismatches.allSatisfy { $0.recordedBefore }, "\(name)")
        let rows = try await Self.divergences(ledger)
        #expect(rows.count == 4, "\(name): \(rows)")
        #expect(rows.allSatisfy { $0.contains("gateway=integer(501)") && $0.contains(#"correction=text("reported")"#) })
        #expect(rows.first?.contains(#"field=text("deal without fill")"#) == true, "\(name): \(rows.first ?? "")")
      }
      // Nothing was corrected: deals, executions and positions are as committed.
      #expect(try await Self.dump(sqlite, Self.books) == booksBefore[0])
      #expect(try await Self.dump(postgres, Self.books) == booksBefore[1])
      #expect(booksBefore[0] == booksBefore[1], "both backends hold the same books")
      do {
        let (lite, pg) = (try await Self.divergences(sqlite), try await Self.divergences(postgres))
        #expect(lite == pg, "the same divergence rows on both backends")
      }

      // A fill the server never booked arrives: within the grace period it waits,
      // after it the next run reports it as "fill without deal".
      try await Task.sleep(for: .milliseconds(1_100))
      let plant = [LedgerBatch(serverId: G.gateway, events: [Self.planted])]
      _ = try sqlite.commit(plant, reportedGaps: [])
      _ = try await postgres.commitAsync(plant)
      for ledger in ledgers {
        let name = ledger.backendName
        let young = try await ledger.crossCheckGateways(grace: .seconds(1))
        #expect(Self.found(young) == Self.expected && young.recorded == 0, "\(name): the young fill waits")
        #expect(young.fillsCompared == 5, "\(name)")
        let found = try await ledger.crossCheckGateways(grace: .zero)
        let new = found.mismatches.filter { !$0.recordedBefore }
        #expect(new.map { "\($0.subject) \($0.key) \($0.kind.rawValue) \($0.fillValue ?? "")" }
                  == ["execution 6 fill without deal LP501-6"], "\(name): \(new)")
        #expect(found.recorded == 1 && found.mismatches.count == 5 && found.fillsCompared == 6, "\(name)")
        #expect(try await Self.divergences(ledger).count == 5)
        #expect(try await ledger.rowCount(.deals) == 5, "\(name): no deal was written for the planted fill")
      }
      do {
        let (lite, pg) = (try await Self.divergences(sqlite), try await Self.divergences(postgres))
        #expect(lite == pg, "the same divergence rows on both backends")
      }

      // The server books the planted fill after all: the next run appends `resolved`
      // for it, once, and the other four stay open.
      let late = [LedgerBatch(serverId: Self.server, events: [
        Self.deal(6, deal: 7, request: 100, externalId: "LP501-6", volume: 300_000, price: "1.08450")])]
      _ = try sqlite.commit(late, reportedGaps: [])
      _ = try await postgres.commitAsync(late)
      for ledger in ledgers {
        let name = ledger.backendName
        let after = try await ledger.crossCheckGateways(grace: .zero)
        #expect(Self.found(after) == Self.expected && after.recorded == 0, "\(name)")
        #expect(after.resolved.map { "\($0.subject) \($0.key) \($0.kind.rawValue)" } == ["execution 6 fill without deal"],
                "\(name): \(after.resolved)")
        let again = try await ledger.crossCheckGateways(grace: .zero)
        #expect(again.resolved.isEmpty && again.recorded == 0, "\(name): resolved once")
        let rows = try await Self.divergences(ledger)
        #expect(rows.count == 6 && rows.last?.contains(#"correction=text("resolved")"#) == true, "\(name): \(rows.last ?? "")")
      }
      do {
        let (lite, pg) = (try await Self.divergences(sqlite), try await Self.divergences(postgres))
        #expect(lite == pg, "the same divergence rows on both backends")
      }
    } catch {
      await postgres.close()
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    await postgres.close()
    try await TestPostgres.dropDatabase(database)
  }
}
