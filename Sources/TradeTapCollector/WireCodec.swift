import NIOCore
import TradeTapWire

/// Bytes → protocol messages: NIO's `ByteToMessageDecoder` around the wire module's
/// `FrameDecoder` (header, CRC32C, limits), then `Message(frame:)`.
/// Throws `FrameDecodingError` or `MessageDecodingError`; leftover bytes at EOF are an error.
public struct WireMessageDecoder: ByteToMessageDecoder {
  public typealias InboundOut = Message

  private var frames = FrameDecoder()

  public init() {}

  public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
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
