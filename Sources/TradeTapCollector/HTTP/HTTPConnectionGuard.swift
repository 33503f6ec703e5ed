import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Bounds on the HTTP listener's connections (issue 10, finding 5: idle sockets were
/// never closed and shared the file table with the plugin port). docs/api.md,
/// "Connection limits".
struct HTTPConnectionLimits: Sendable {
  /// Most open HTTP connections, change streams included; one more is answered 503
  /// and closed at once.
  var maxConnections: Int
  /// A request (head and body) must arrive within this long of its first byte, or of
  /// the connection's accept: a slow or silent client is closed.
  var requestReadTimeout: TimeAmount
  /// A connection with no request in progress is closed after this long.
  var idleTimeout: TimeAmount
}

/// Hummingbird's HTTP/1.1 child channel with the limits around it: the cap is taken
/// at setup, the deadlines run on raw bytes at the front of the pipeline.
struct GuardedHTTP1Channel: ServerChildChannel {
  typealias Value = HTTP1Channel.Value
  let base: HTTP1Channel
  let limits: HTTPConnectionLimits
  let count: HTTPConnectionCount

  func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
    let admitted = count.admit()
    if admitted {
      channel.closeFuture.whenComplete { [count] _ in count.release() }
    } else {
      count.noteRefusal(logger: logger)
    }
    let limits = self.limits
    return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
      let front: any ChannelHandler =
        admitted
        ? HTTPReadDeadlineHandler(requestReadTimeout: limits.requestReadTimeout, idleTimeout: limits.idleTimeout)
        : HTTPOverCapacityHandler()
      try channel.pipeline.syncOperations.addHandler(front, position: .first)
      return value
    }
  }

  func handle(value: Value, logger: Logger) async {
    await base.handle(value: value, logger: logger)
  }
}

/// The number of open HTTP connections against the cap.
final class HTTPConnectionCount: Sendable {
  let limit: Int
  private let open = Atomic<Int>(0)
  private let refusedSinceLog = Atomic<Int>(0)
  private let lastLog = Mutex<ContinuousClock.Instant?>(nil)

  init(limit: Int) { self.limit = limit }

  var current: Int { open.load(ordering: .relaxed) }

  /// Takes a slot; false when all `limit` are taken.
  func admit() -> Bool {
    var seen = open.load(ordering: .relaxed)
    while seen < limit {
      let (exchanged, original) = open.compareExchange(
        expected: seen, desired: seen + 1, successOrdering: .relaxed, failureOrdering: .relaxed)
      if exchanged { return true }
      seen = original
    }
    return false
  }

  func release() { open.subtract(1, ordering: .relaxed) }

  /// One WARN line per 10 s at most, with the count since the last: a flood must not
  /// become a flood of log lines.
  func noteRefusal(logger: Logger) {
    refusedSinceLog.add(1, ordering: .relaxed)
    let now = ContinuousClock.now
    let due = lastLog.withLock { last in
      guard last.map({ now - $0 >= .seconds(10) }) ?? true else { return false }
      last = now
      return true
    }
    guard due else { return }
    let refused = refusedSinceLog.exchange(0, ordering: .relaxed)
    logger.warning(
      "HTTP connection refused: \(limit) open, the cap (--http-max-connections); \(refused) refused since the last such line")
  }
}

/// What the HTTP-level watcher tells the byte-level deadline handler, as outbound
/// user events (they travel toward the socket, where that handler sits).
enum HTTPExchangeEvent {
  /// A request was read to its end: no read deadline while it is answered.
  case requestRead
  /// Every request read so far has its full response written: the idle wait begins.
  case responsesWritten
  /// A response that streams until the client goes (`text/event-stream`) has begun.
  case streamStarted
}

/// Sees requests and responses as HTTP parts (after the decoder) and reports the two
/// moments the deadline handler needs. A change stream is one request whose response
/// never ends while the feed runs, so it is never idle.
final class HTTPExchangeWatcher: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPRequestPart
  typealias InboundOut = HTTPRequestPart
  typealias OutboundIn = HTTPResponsePart
  typealias OutboundOut = HTTPResponsePart

  private var unanswered = 0

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head:
      unanswered += 1
    case .end:
      context.triggerUserOutboundEvent(HTTPExchangeEvent.requestRead, promise: nil)
    case .body:
      break
    }
    context.fireChannelRead(data)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let part = unwrapOutboundIn(data)
    let ended: Bool
    if case .end = part { ended = true } else { ended = false }
    if case .head(let response) = part, response.headerFields[.contentType] == "text/event-stream" {
      context.triggerUserOutboundEvent(HTTPExchangeEvent.streamStarted, promise: nil)
    }
    context.write(data, promise: promise)
    if ended {
      unanswered = max(0, unanswered - 1)
      if unanswered == 0 { context.triggerUserOutboundEvent(HTTPExchangeEvent.responsesWritten, promise: nil) }
    }
  }
}

/// At the front of the pipeline (raw bytes): closes a connection that takes longer
/// than the request-read timeout to deliver a request, counted from the accept or
/// from the first byte after an idle wait, or that stays idle past the idle timeout.
/// Bytes of an unfinished head are what a slow client drips, so they never count as
/// progress; only a complete request (``HTTPExchangeEvent``) stops the clock.
final class HTTPReadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private enum Phase {
    /// Waiting for a request to arrive whole (from accept, or from its first byte).
    case readingRequest
    /// A request was read; its response is being written (a change stream stays here).
    case answering
    /// Responses written, nothing read since: the idle clock runs.
    case idle
  }

  private let requestReadTimeout: TimeAmount
  private let idleTimeout: TimeAmount
  private var phase = Phase.readingRequest
  /// A change stream is being answered: it ends when its client goes.
  private var streaming = false
  private var deadline: Scheduled<Void>?

  init(requestReadTimeout: TimeAmount, idleTimeout: TimeAmount) {
    self.requestReadTimeout = requestReadTimeout
    self.idleTimeout = idleTimeout
  }

  func handlerAdded(context: ChannelHandlerContext) {
    if context.channel.isActive { arm(context, requestReadTimeout) }
  }

  func channelActive(context: ChannelHandlerContext) {
    if deadline == nil, phase == .readingRequest { arm(context, requestReadTimeout) }
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if phase == .idle {
      phase = .readingRequest
      arm(context, requestReadTimeout)
    }
    context.fireChannelRead(data)
  }

  func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
    guard let exchange = event as? HTTPExchangeEvent else {
      context.triggerUserOutboundEvent(event, promise: promise)
      return
    }
    switch exchange {
    case .requestRead:
      phase = .answering
      disarm()
    case .responsesWritten:
      phase = .idle
      streaming = false
      arm(context, idleTimeout)
    case .streamStarted:
      streaming = true
    }
    promise?.succeed()
  }

  /// The server allows half-closure (a client may send a request, then FIN, then read
  /// the answer), so a stream's client that went away shows only as input closed: the
  /// stream would hold its slot until a keep-alive write failed, up to 30 s later.
  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if streaming, let event = event as? ChannelEvent, event == .inputClosed {
      context.close(promise: nil)
      return
    }
    context.fireUserInboundEventTriggered(event)
  }

  func channelInactive(context: ChannelHandlerContext) {
    disarm()
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) { disarm() }

  private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
    disarm()
    let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
    deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
      loopBound.value.close(promise: nil)
    }
  }

  private func disarm() {
    deadline?.cancel()
    deadline = nil
  }
}

/// Answers a connection over the cap with `503` and closes it, without reading it.
final class HTTPOverCapacityHandler: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  static let body = #"{"error":{"code":"too_many_connections","message":"HTTP connection cap reached"}}"#
  static let answer =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body

  func handlerAdded(context: ChannelHandlerContext) {
    if context.channel.isActive { refuse(context) }
  }

  func channelActive(context: ChannelHandlerContext) {
    refuse(context)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {}  // never parsed

  func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
    promise?.succeed()
  }

  private func refuse(_ context: ChannelHandlerContext) {
    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: Self.answer)), promise: nil)
    context.close(promise: nil)
  }
}
