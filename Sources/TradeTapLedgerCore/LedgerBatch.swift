import TradeTapEvents

/// Events of one trade server to apply together, in sequence order.
public struct LedgerBatch: Sendable {
  /// The server every event of the batch belongs to.
  public var serverId: UInt32
  /// Events in ascending sequence order (the writer sorts them if they are not).
  public var events: [Event]
  /// Each event as the wire encoded it, stored in `events.body` for audit;
  /// empty to store the summary only. When present, index-aligned with ``events``.
  public var encodedEvents: [[UInt8]]

  public init(serverId: UInt32, events: [Event], encodedEvents: [[UInt8]] = []) {
    self.serverId = serverId
    self.events = events
    self.encodedEvents = encodedEvents
  }
}

/// Sequence numbers a peer reports lost (a wire gap notice), stored in `gaps`.
public struct ReportedGap: Sendable, Equatable {
  public var serverId: UInt32
  public var firstSequence: UInt64
  public var lastSequence: UInt64
  public var reason: String

  public init(serverId: UInt32, firstSequence: UInt64, lastSequence: UInt64, reason: String) {
    self.serverId = serverId
    self.firstSequence = firstSequence
    self.lastSequence = lastSequence
    self.reason = reason
  }
}

/// What one commit did, per server.
public struct LedgerCommit: Sendable, Equatable {
  /// The highest durable sequence number of each server touched, after the commit.
  public var durableSequence: [UInt32: UInt64]
  /// Events inserted by this commit (new sequence numbers).
  public var appliedEvents: Int
  /// Events skipped because their sequence number was already in the ledger.
  public var duplicateEvents: Int
  /// Events stored in `quarantine`.
  public var quarantinedEvents: Int
  /// Gap rows inserted (gap events and gap notices).
  public var gapsRecorded: Int

  public init(
    durableSequence: [UInt32: UInt64], appliedEvents: Int, duplicateEvents: Int, quarantinedEvents: Int,
    gapsRecorded: Int
  ) {
    self.durableSequence = durableSequence
    self.appliedEvents = appliedEvents
    self.duplicateEvents = duplicateEvents
    self.quarantinedEvents = quarantinedEvents
    self.gapsRecorded = gapsRecorded
  }
}
