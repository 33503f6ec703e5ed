import Foundation
import GRDB
import TradeTapEvents

/// The only way events enter the ledger.
///
/// Every commit is one SQLite transaction. Applying is idempotent and ordered:
/// - an event whose `(server_id, seq)` is at or below the server's durable sequence
///   number, or already in `events`, changes nothing;
/// - every row carries the `updated_seq` of the event that wrote it, and an upsert
///   never lets an older event overwrite a newer state.
///
/// So at-least-once delivery on the wire is exactly-once in effect in the ledger.
public final class LedgerWriter: Sendable {
  let pool: DatabasePool

  init(pool: DatabasePool) {
    self.pool = pool
  }

  /// Applies the events of one trade server in one transaction.
  /// - Parameters:
  ///   - events: events of a single server, ideally in sequence order.
  ///   - encodedEvents: the events as the wire encoded them (kept in `events.body`),
  ///     or empty.
  /// - Returns: the server's highest durable sequence number after the commit.
  /// - Throws: ``LedgerError/mixedServers`` when the events name several servers;
  ///   a GRDB `DatabaseError` when the transaction fails (nothing was applied).
  @discardableResult
  public func apply(_ events: [Event], encodedEvents: [[UInt8]] = []) throws -> UInt64 {
    guard let serverId = events.first?.serverId else { return 0 }
    guard events.allSatisfy({ $0.serverId == serverId }) else { throw LedgerError.mixedServers }
    let commit = try commit([LedgerBatch(serverId: serverId, events: events, encodedEvents: encodedEvents)])
    return commit.durableSequence[serverId] ?? 0
  }

  /// Group commit: applies batches of many servers (and gap notices) in one transaction.
  /// - Parameters:
  ///   - batches: batches of any servers; batches of one server are applied in order.
  ///   - reportedGaps: gaps a peer reported (wire gap notices), stored in `gaps`.
  /// - Returns: the durable sequence number of every server touched, and counts.
  /// - Throws: a GRDB `DatabaseError` when the transaction fails (nothing was applied).
  public func commit(_ batches: [LedgerBatch], reportedGaps: [ReportedGap] = []) throws -> LedgerCommit {
    let receivedUtc = UTCTime.now()
    return try pool.write { db in
      var projection = try LedgerProjection(db: db, receivedUtc: receivedUtc)
      // Gaps first: a notice names sequence numbers before the events that follow it,
      // so the jump those events make is recognised as the reported gap.
      for notice in reportedGaps {
        try projection.recordGap(notice)
      }
      for batch in batches {
        try projection.apply(batch)
      }
      return try projection.finish()
    }
  }

  /// The highest sequence number of `serverId` whose event is durable in the ledger:
  /// the resume point a plugin continues after. 0 for a server never seen.
  public func durableSequence(serverId: UInt32) throws -> UInt64 {
    try pool.read { db in
      let value = try Int64.fetchOne(db, sql: LedgerStatements.serverLastSeq, arguments: [Int64(serverId)])
      return UInt64(max(0, value ?? 0))
    }
  }

  /// Records that a trade server connected and authenticated.
  /// - Parameters:
  ///   - serverId: the authenticated server.
  ///   - name: the server's name, when the peer told it.
  ///   - platform: `4` (MT4) or `5` (MT5), when known.
  ///   - utcOffsetMinutes: broker time minus UTC, when known.
  public func recordConnection(
    serverId: UInt32, name: String? = nil, platform: Int? = nil, utcOffsetMinutes: Int32? = nil
  ) throws {
    let now = UTCTime.now()
    try pool.write { db in
      try db.execute(
        sql: """
          INSERT INTO servers (id, name, platform, utc_offset_minutes, first_connected_utc, last_connected_utc)
          VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET
            name = coalesce(excluded.name, name),
            platform = coalesce(excluded.platform, platform),
            utc_offset_minutes = coalesce(excluded.utc_offset_minutes, utc_offset_minutes),
            first_connected_utc = coalesce(first_connected_utc, excluded.first_connected_utc),
            last_connected_utc = excluded.last_connected_utc
          """,
        arguments: [Int64(serverId), name, platform, utcOffsetMinutes.map { Int($0) }, now, now])
    }
  }

  /// Records that a trade server's connection ended.
  public func recordDisconnection(serverId: UInt32) throws {
    let now = UTCTime.now()
    try pool.write { db in
      try db.execute(
        sql: "UPDATE servers SET last_disconnected_utc = ? WHERE id = ?", arguments: [now, Int64(serverId)])
    }
  }
}

/// Errors the ledger raises itself (database errors are GRDB's `DatabaseError`).
public enum LedgerError: Error, Equatable, CustomStringConvertible {
  /// `apply(_:)` received events of more than one server.
  case mixedServers
  /// A `--database` URL the ledger cannot open.
  case unsupportedDatabase(String)
  /// A feature this backend does not have yet (the text says which).
  case unsupportedFeature(String)
  /// A database that could not be reached or migrated (the text says which and why).
  case unavailableDatabase(String)
  /// A write the database did not answer in time (the text says which database and how long).
  case writeTimedOut(String)

  public var description: String {
    switch self {
    case .mixedServers: "a batch must hold the events of one server"
    case .unsupportedDatabase(let url): "database \(url) is not supported: use sqlite:PATH or postgres://user:pass@host:port/db"
    case .unsupportedFeature(let text): text
    case .unavailableDatabase(let text): "cannot open the ledger \(text)"
    case .writeTimedOut(let text): "ledger write abandoned: \(text)"
    }
  }
}
