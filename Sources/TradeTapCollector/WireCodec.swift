import NIOCore
import Synchronization
import TradeTapWire

/// One connection's frame payload limit, shared by its decoder and its handler:
/// ``beforeWelcome`` until the handshake is done (a hello is < 200 bytes), then the
/// protocol's 1 MiB. So an unauthenticated peer can make the collector buffer at
/// most 4 KiB of a frame, not 1 MiB (× `--max-handshakes` connections).
final class FramePayloadLimit: Sendable {
  static let beforeWelcome = 4_096
  private let value = Atomic<Int>(FramePayloadLimit.beforeWelcome)

  var current: Int { value.load(ordering: .relaxed) }

  /// The handshake is done: frames up to the protocol's limit from now on.
  func raiseAfterWelcome() { value.store(WireLimits.maxFramePayload, ordering: .relaxed) }
}

/// Bytes → protocol messages: NIO's `ByteToMessageDecoder` around the wire module's
/// `FrameDecoder` (header, CRC32C, limits), then `Message(frame:)`.
/// Throws `FrameDecodingError` or `MessageDecodingError`; leftover bytes at EOF are an error.
public struct WireMessageDecoder: ByteToMessageDecoder {
  public typealias InboundOut = Message

  private var frames = FrameDecoder()
  private let limit: FramePayloadLimit?

  public init() { limit = nil }

  /// A decoder whose payload limit follows `limit` (raised by the connection at the welcome).
  init(limit: FramePayloadLimit) {
    self.limit = limit
    frames = FrameDecoder(maxPayloadLength: limit.current)
  }

  public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    if let limit { frames.maxPayloadLength = limit.current }
    if buffer.readableBytes > 0 {
      buffer.readWithUnsafeReadableBytes { bytes in
        frames.append(bytes)
        return bytes.count
      }
    }
    while let frame = try frames.nextFrame() {
      context.fireChannelRead(wrapInboundOut(try Message(frame: frame)))
    }
    return .needMoreData
  }

  public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
    _ = try decode(context: context, buffer: &buffer)
    if seenEOF { try frames.finish() }
    return .needMoreData
  }
}

/// Protocol messages → framed bytes.
public struct WireMessageEncoder: MessageToByteEncoder {
  public typealias OutboundIn = Message
  private let encoder = FrameEncoder()

  public init() {}

  public func encode(data: Message, out: inout ByteBuffer) throws {
    out.writeBytes(encoder.encode(data))
  }
}
