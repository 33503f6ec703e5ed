import Glibc
import NIOCore
import TradeTapEvents

/// The collector's half of the stage breakdown (docs/benchmarks-pipeline.md, "Stage
/// breakdown"): with `TRADETAP_STAGE_TRACE=PATH` in its environment, one line per
/// event batch to `PATH.collector`:
///
///     <first wire seq> <events> <raw read ns> <decrypted ns> <decoded ns> <recorded ns>
///
/// CLOCK_MONOTONIC, like the plugin's `PATH.sender` lines, which they join on the first
/// sequence. Off by default; when off, no handler is added and the connection handler
/// tests one optional.
final class StageTrace: Sendable {
  private let fd: Int32

  /// Opened once, from the environment, for every connection; nil: off.
  static let shared: StageTrace? = {
    guard let base = getenv("TRADETAP_STAGE_TRACE"), base.pointee != 0 else { return nil }
    let fd = open(String(cString: base) + ".collector", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    return fd >= 0 ? StageTrace(fd: fd) : nil
  }()

  private init(fd: Int32) { self.fd = fd }

  func batch(firstSequence: UInt64, events: Int, stamps: StageStamps, decoded: UInt64, recorded: UInt64) {
    let line = "\(firstSequence) \(events) \(stamps.raw) \(stamps.decrypted) \(decoded) \(recorded)\n"
    var bytes = Array(line.utf8)
    _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
  }
}

/// When a connection's bytes last arrived, before and after TLS. Touched only on the
/// channel's event loop.
final class StageStamps: @unchecked Sendable {
  var raw: UInt64 = 0
  var decrypted: UInt64 = 0
}

/// Stamps each read as it passes: in front of the TLS handler (`raw`) and behind it
/// (`decrypted`).
final class StageStampHandler: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  enum Point: Sendable { case raw, decrypted }

  private let stamps: StageStamps
  private let point: Point

  init(_ stamps: StageStamps, at point: Point) {
    self.stamps = stamps
    self.point = point
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let now = DeliveryLatency.monotonicNanoseconds()
    switch point {
    case .raw: stamps.raw = now
    case .decrypted: stamps.decrypted = now
    }
    context.fireChannelRead(data)
  }
}
