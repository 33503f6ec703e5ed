import TradeServerAPI
import TradeTapEvents
import TradeTapJournal
import TradeTapWire

/// Answers the collector's snapshot requests (reconciliation) from the sender thread.
///
/// Pacing, so that a snapshot never hurts the trade server nor stalls live delivery:
/// - the host query (`users_enum`, `positions_enum`, `deals_enum`, `trades_enum`) runs
///   once per request on this plugin thread (never from a hook); its visitor only
///   copies each record (no normalising, no I/O), so the host's lock is held for the
///   copy alone;
/// - the copied records then leave in chunks of at most ``recordsPerChunk``, one chunk
///   per turn of the sender loop and only when the journal has nothing to send, with
///   at least ``pauseBetweenChunksNanoseconds`` between chunks: live events go first
///   and wait for at most one chunk;
/// - at most ``maxQueuedRequests`` requests wait; more are answered `failed` at once.
struct SnapshotResponder {
  static let recordsPerChunk = 512
  static let pauseBetweenChunksNanoseconds: UInt64 = 1_000_000
  static let maxQueuedRequests = 16

  /// A request whose records were copied from the host and are being sent.
  private struct Walk {
    let request: SnapshotRequest
    let status: SnapshotStatus
    /// The host's `ts_result` with ``SnapshotStatus/hostError``.
    let hostResult: Int32
    let records: [RawRecord]
    var position = 0
    var chunkIndex: UInt32 = 0
  }

  private var queue: [SnapshotRequest] = []
  private var walk: Walk?
  private var nextChunkAt: UInt64 = 0

  /// Whether a request is queued or being answered.
  var hasWork: Bool { walk != nil || !queue.isEmpty }

  /// Nanoseconds until the next chunk may go (0: now); nil when idle.
  func delay(now: UInt64) -> UInt64? {
    guard hasWork else { return nil }
    return nextChunkAt > now ? nextChunkAt - now : 0
  }

  /// Queues a request. - Returns: a final `failed` chunk to send at once when the queue is full.
  mutating func enqueue(_ request: SnapshotRequest) -> SnapshotChunk? {
    guard queue.count < Self.maxQueuedRequests else {
      return SnapshotChunk(requestId: request.requestId, chunkIndex: 0, isFinal: true, status: .failed, records: [])
    }
    queue.append(request)
    return nil
  }

  /// The next chunk frame when one is due, walking the host for the next request first.
  mutating func nextChunk(source: inout JournalEventSource, log: HostLog, now: UInt64) -> [UInt8]? {
    guard hasWork, now >= nextChunkAt else { return nil }
    if walk == nil {
      let request = queue.removeFirst()
      let (status, records, hostResult) = Self.query(request, api: source.api)
      if status != .ok {
        log.warning("snapshot request \(request.requestId) (\(request.scope)): \(status) \(hostResult)")
      }
      walk = Walk(request: request, status: status, hostResult: hostResult, records: records)
    }
    var current = walk!
    var builder = SnapshotChunkBuilder(requestId: current.request.requestId, chunkIndex: current.chunkIndex)
    var taken = 0
    while current.position < current.records.count, taken < Self.recordsPerChunk {
      let event = Normaliser.normalise(
        current.records[current.position], serverId: source.serverId, sequence: 0,
        utcOffsetMinutes: source.utcOffsetMinutes)
      // Groups: an excluded account's records never leave the server, snapshots included.
      if source.admitsSnapshot(event) {
        guard builder.append(event) else { break }  // frame full: the rest goes in the next chunk
      }
      current.position += 1
      taken += 1
    }
    let isFinal = current.position >= current.records.count
    let frame = builder.finishFrame(isFinal: isFinal, status: current.status, hostResult: current.hostResult)
    current.chunkIndex += 1
    walk = isFinal ? nil : current
    nextChunkAt = now &+ Self.pauseBetweenChunksNanoseconds
    return frame
  }

  // MARK: Host queries (plugin thread only)

  private struct Copied {
    let kind: RecordKind
    var records: [RawRecord] = []
  }

  /// Copies the request's records out of the host.
  ///
  /// A NULL query function is `notOffered`; a query that answers anything but
  /// `TS_OK` is `hostError` with its code, and its records are dropped: a failed
  /// query is an unknown state, never an empty book (docs/reconciliation.md).
  /// (`TS_ERR_NOT_FOUND` from `user_get` for one login is an empty answer: no such account.)
  static func query(
    _ request: SnapshotRequest, api: UnsafePointer<ts_server_api>
  ) -> (SnapshotStatus, [RawRecord], Int32) {
    // Member by member: a copy of the whole table would read past a first-round
    // host's, which ends before `user_create`.
    let table = api
    let host = api.pointee.host
    var result: ts_result = TS_ERR_NOT_FOUND
    var copied: Copied
    switch request.scope {
    case .accounts:
      copied = Copied(kind: .userSnapshot)
      if request.login != 0 {
        guard let userGet = table.pointee.user_get else { return (.notOffered, [], 0) }
        var user = ts_user()
        user.struct_size = UInt32(MemoryLayout<ts_user>.size)
        result = userGet(host, request.login, &user)
        if result == TS_OK { copied.records.append(RawRecord(kind: .userSnapshot, record: &user)) }
        if result == TS_ERR_NOT_FOUND { return (.ok, [], 0) }  // no such account: an empty answer
      } else {
        guard let usersEnum = table.pointee.users_enum else { return (.notOffered, [], 0) }
        result = withUnsafeMutablePointer(to: &copied) { usersEnum(host, { ctx, record in SnapshotResponder.copy(ctx, UnsafeRawPointer(record)) }, $0) }
      }
    case .positions:
      copied = Copied(kind: .positionSnapshot)
      guard let positionsEnum = table.pointee.positions_enum else { return (.notOffered, [], 0) }
      result = withUnsafeMutablePointer(to: &copied) {
        positionsEnum(host, request.login, { ctx, record in SnapshotResponder.copy(ctx, UnsafeRawPointer(record)) }, $0)
      }
    case .deals:
      copied = Copied(kind: .dealSnapshot)
      guard let dealsEnum = table.pointee.deals_enum else { return (.notOffered, [], 0) }
      result = withUnsafeMutablePointer(to: &copied) {
        dealsEnum(host, request.fromBrokerMilliseconds, request.toBrokerMilliseconds, { ctx, record in SnapshotResponder.copy(ctx, UnsafeRawPointer(record)) }, $0)
      }
    case .trades:
      copied = Copied(kind: .tradeSnapshot)
      guard let tradesEnum = table.pointee.trades_enum else { return (.notOffered, [], 0) }
      result = withUnsafeMutablePointer(to: &copied) {
        tradesEnum(host, Int32(truncatingIfNeeded: request.login), request.openOnly ? 1 : 0,
                   { ctx, record in SnapshotResponder.copy(ctx, UnsafeRawPointer(record)) }, $0)
      }
    }
    return result == TS_OK ? (.ok, copied.records, 0) : (.hostError, [], result)
  }

  /// The visitor: copies one record (zero-filled beyond its struct_size). Never traps.
  private static func copy(_ context: UnsafeMutableRawPointer?, _ record: UnsafeRawPointer?) -> Int32 {
    guard let context else { return 1 }
    let copied = context.assumingMemoryBound(to: Copied.self)
    copied.pointee.records.append(RawRecord(kind: copied.pointee.kind, record: record))
    return 0
  }
}
