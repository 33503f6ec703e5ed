/// Ticket numbers of one shard. Shards (host threads) interleave their tickets
/// (`first + k × stride`), so tickets are unique per server and, because each
/// shard's sequence depends only on its own work, repeatable from the seed.
public struct TicketSequence: Sendable {
  public private(set) var next: UInt64
  public let stride: UInt64

  public init(first: UInt64, stride: UInt64 = 1) {
    next = first
    self.stride = stride
  }

  public mutating func take() -> UInt64 {
    defer { next += stride }
    return next
  }
}

/// A requested fill of an order: volume and price (points).
public struct Fill: Sendable, Equatable {
  public var volumeExt: UInt64
  public var pricePoints: Int64
  public init(volumeExt: UInt64, pricePoints: Int64) {
    self.volumeExt = volumeExt
    self.pricePoints = pricePoints
  }
}

/// How a server's shard numbers its tickets and reads its clock.
public struct ShardIdentity: Sendable {
  /// 0-based shard number and the number of shards.
  public var shard: Int
  public var shards: Int
  public init(shard: Int = 0, shards: Int = 1) {
    self.shard = shard
    self.shards = shards
  }
  func tickets(base: UInt64) -> TicketSequence {
    TicketSequence(first: base + UInt64(shard), stride: UInt64(shards))
  }
}
