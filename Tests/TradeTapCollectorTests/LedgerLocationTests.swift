import Foundation
import Testing
import TradeTapCollector
import TradeTapEvents
import TradeTapLedger
import TradeTapLedgerPostgres

/// `--database` parsed once (``LedgerLocation``), opened by one factory
/// (``LedgerBackend``), and the catch-up reader `tradetap demo` waits on, on both backends.
@Suite("Ledger location: one --database parser, one factory, the catch-up reader on both backends", .serialized)
struct LedgerLocationTests {
  @Test func theDatabaseTextNamesItsBackend() {
    #expect(LedgerLocation("sqlite:./tradetap.sqlite") == .sqlite(path: "./tradetap.sqlite"))
    #expect(LedgerLocation("sqlite:/var/lib/tradetap/ledger.sqlite") == .sqlite(path: "/var/lib/tradetap/ledger.sqlite"))
    let url = "postgres://tap:s3cret@db.example:5433/ledger?sslmode=require"
    #expect(LedgerLocation(url) == .postgres(url: url), "query options travel with the URL")
    #expect(LedgerLocation("postgresql://tap@db/ledger") == .postgres(url: "postgresql://tap@db/ledger"))
    for refused in ["", "sqlite:", "./ledger.sqlite", "/tmp/ledger.sqlite", "mysql://u@h/db", "SQLITE:x", "postgres:/x"] {
      #expect(LedgerLocation(refused) == nil, "\(refused)")
    }
    #expect(LedgerLocation.sqlite(path: "/tmp/a b.sqlite").argument == "sqlite:/tmp/a b.sqlite")
    #expect(LedgerLocation(url)?.argument == url)
    #expect(LedgerLocation(url)?.takesPassword == true)
    #expect(LedgerLocation("sqlite:x")?.takesPassword == false)
  }

  @Test func aDescriptionNeverShowsThePassword() {
    #expect(LedgerBackend.describe(.postgres(url: "postgres://tap:s3cret@db.example:5433/ledger?sslmode=require"))
      == "postgres://tap@db.example:5433/ledger")
    #expect(LedgerBackend.describe(.sqlite(path: "/tmp/l.sqlite")) == "sqlite:/tmp/l.sqlite")
  }

  @Test func theCollectorConfigurationKeepsItsTwoFields() {
    var configuration = CollectorConfiguration()
    configuration.ledgerLocation = .postgres(url: "postgres://u@h/db")
    #expect(configuration.postgresURL == "postgres://u@h/db")
    configuration.ledgerLocation = .sqlite(path: "/tmp/x.sqlite")
    #expect(configuration.postgresURL == nil && configuration.databasePath == "/tmp/x.sqlite")
    #expect(configuration.ledgerLocation == .sqlite(path: "/tmp/x.sqlite"))
  }

  @Test func aReaderNeverCreatesASQLiteLedger() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/missing.sqlite"
    await #expect(throws: LedgerError.unavailableDatabase("no ledger at \(path)")) {
      _ = try await LedgerBackend.open(.sqlite(path: path), access: .read)
    }
    #expect(!FileManager.default.fileExists(atPath: path))
  }

  /// The equivalence test's MT4 scenario (sequences 1-4, 8, 9: a gap of 5-7) and the
  /// plugin's overflow gap record (seq 10, 250 events refused), committed by a writer,
  /// read back by a reader of the same location, on both backends.
  @Test func theCatchUpCountsAreTheSameOnBothBackends() async throws {
    let folder = try Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let server = LedgerBackendEquivalenceTests.server
    let database = try await TestPostgres.createDatabase()
    var stores: [any LedgerStore] = []
    do {
      for location in [LedgerLocation.sqlite(path: folder + "/ledger.sqlite"), .postgres(url: database.url)] {
        let writer = try await LedgerBackend.open(location, access: .write)
        stores.append(writer)
        #expect(try await writer.catchUp(serverId: Int64(server)) == LedgerCatchUp(), "an empty ledger")
        let (name, commits) = LedgerBackendEquivalenceTests.scenarios[4]
        #expect(name.hasSuffix("and a gap"))
        for batches in commits {
          _ = try writer.commit(batches.map { LedgerBatch(serverId: server, events: $0) }, reportedGaps: [])
        }
        let overflow = Gap(firstSequence: 10, count: 1, reason: .overflow, refusedEvents: 250)
        _ = try writer.commit(
          [LedgerBatch(serverId: server, events: [LedgerBackendEquivalenceTests.event(10, .gap, .gap(overflow))])],
          reportedGaps: [])
        stores.append(try await LedgerBackend.open(location, access: .read))
      }
      var counts: [LedgerCatchUp] = []
      for store in stores { counts.append(try await store.catchUp(serverId: Int64(server))) }
      #expect(counts.allSatisfy { $0 == counts[0] }, "\(counts)")
      #expect(counts[0] == LedgerCatchUp(events: 6, refused: 250, gaps: 2, openGaps: 2, openGapEvents: 3 + 250))
      #expect(counts[0].accounted == 256)
      #expect(try await stores[3].catchUp(serverId: 99) == LedgerCatchUp(), "another server's counts")
    } catch {
      for store in stores { await store.close() }
      try await TestPostgres.dropDatabase(database)
      throw error
    }
    for store in stores { await store.close() }
    try await TestPostgres.dropDatabase(database)
  }
}

@Suite("Flag durations: one parser for every duration flag")
struct FlagDurationTests {
  @Test func theSpecsUnitsAndAFraction() throws {
    let cases: [(String, Int64)] = [
      ("500ms", 500_000_000), ("30s", 30_000_000_000), ("5m", 300_000_000_000), ("1h", 3_600_000_000_000),
      ("0", 0), ("0s", 0), ("0ms", 0), ("1.5s", 1_500_000_000), ("0.1s", 100_000_000), (".5m", 30_000_000_000),
      ("+2s", 2_000_000_000), ("0.0000000019s", 1), ("2562047h", 2_562_047 * 3_600_000_000_000),
    ]
    for (text, nanoseconds) in cases {
      #expect(try FlagDuration(text, flag: "--linger").nanoseconds == nanoseconds, "\(text)")
    }
    #expect(try FlagDuration("1.5s", flag: "--linger").seconds == 1.5)
    #expect(try FlagDuration("250ms", flag: "--linger").duration == .milliseconds(250))
  }

  @Test func eachRefusalIsOneLineNamingTheFlag() {
    let refusals: [(String, String)] = [
      ("5", "--reconcile-every 5 is not a duration like 500ms, 30s or 5m"),
      ("", "--reconcile-every  is not a duration like 500ms, 30s or 5m"),
      ("s", "--reconcile-every s is not a duration like 500ms, 30s or 5m"),
      ("5x", "--reconcile-every 5x is not a duration like 500ms, 30s or 5m"),
      ("five s", "--reconcile-every five s is not a duration like 500ms, 30s or 5m"),
      ("1.2.3s", "--reconcile-every 1.2.3s is not a duration like 500ms, 30s or 5m"),
      ("1e3ms", "--reconcile-every 1e3ms is not a duration like 500ms, 30s or 5m"),
      ("-5s", "--reconcile-every -5s is negative: a duration is 0 or more"),
      ("99999999999h", "--reconcile-every 99999999999h is too long: at most 2562047h"),
      ("99999999999999999999999s", "--reconcile-every 99999999999999999999999s is too long: at most 9223372036s"),
      ("2562047.9h", "--reconcile-every 2562047.9h is too long: at most 2562047h"),
    ]
    for (text, line) in refusals {
      #expect(throws: FlagDuration.Refusal.self, "\(text)") { try FlagDuration(text, flag: "--reconcile-every") }
      do {
        _ = try FlagDuration(text, flag: "--reconcile-every")
      } catch {
        #expect("\(error)" == line)
      }
    }
  }
}
