/// The message a frame carries. Raw values are fixed once shipped.
public enum MessageType: UInt8, Sendable, CaseIterable {
  /// Plugin → collector: server id, client nonce, software.
  case hello = 1
  /// Collector → plugin: server nonce.
  case challenge = 2
  /// Plugin → collector: client proof.
  case authenticate = 3
  /// Collector → plugin: server proof, resume point, heartbeat interval.
  case welcome = 4
  /// Plugin → collector: consecutive events.
  case eventBatch = 5
  /// Collector → plugin: everything through a sequence number is durable.
  case ack = 6
  /// Either way: I am alive.
  case heartbeat = 7
  /// Plugin → collector: sequence numbers that will never carry events.
  case gapNotice = 8
  /// Collector → plugin: send me a snapshot of platform state.
  case snapshotRequest = 9
  /// Plugin → collector: part of a snapshot.
  case snapshotChunk = 10
  /// Either way: this is why I close the connection. Always the last frame.
  case error = 11
  /// Collector → plugin: run a CRM command on the trade server (docs/commands.md).
  case command = 12
  /// Plugin → collector: what a command did, from the plugin's durable record.
  case commandResult = 13
}

/// Why a peer closes the connection, sent in an ``ErrorMessage`` just before closing.
/// Unknown codes from newer peers are kept as they are.
public struct ErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  /// The client's proof does not verify with the server's secret (or the server's proof, client side).
  public static let wrongSecret = ErrorCode(rawValue: 1)
  /// No secret is configured for the server id in hello. Reserved: collectors no
  /// longer send it (an unknown id is challenged and fails as ``wrongSecret``, so
  /// configured ids cannot be enumerated).
  public static let unknownServerId = ErrorCode(rawValue: 2)
  /// The client nonce was seen recently: a replayed handshake.
  public static let replayedHandshake = ErrorCode(rawValue: 3)
  /// The frame's protocol version is not one this peer speaks.
  public static let versionMismatch = ErrorCode(rawValue: 4)
  /// Bad magic, bad checksum, or a frame cut short.
  public static let badFrame = ErrorCode(rawValue: 5)
  /// Payload length above the limit.
  public static let frameTooLarge = ErrorCode(rawValue: 6)
  /// A message that is malformed or not allowed in the current state.
  public static let protocolViolation = ErrorCode(rawValue: 7)
  /// The collector cannot take this connection now; retry later.
  public static let serverBusy = ErrorCode(rawValue: 8)
  /// A bug or an internal failure on the sending side.
  public static let internalError = ErrorCode(rawValue: 9)
  /// The server id already has a live authenticated connection at this collector
  /// (one per server id); retry with backoff. Also the last frame of a silent
  /// connection a newer one replaced.
  public static let alreadyConnected = ErrorCode(rawValue: 10)

  public var description: String {
    switch self {
    case .wrongSecret: "wrong secret"
    case .unknownServerId: "unknown server id"
    case .replayedHandshake: "replayed handshake"
    case .versionMismatch: "version mismatch"
    case .badFrame: "bad frame"
    case .frameTooLarge: "frame too large"
    case .protocolViolation: "protocol violation"
    case .serverBusy: "server busy"
    case .internalError: "internal error"
    case .alreadyConnected: "already connected"
    default: "error \(rawValue)"
    }
  }
}
