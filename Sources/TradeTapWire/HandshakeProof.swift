/// The HMAC-SHA256 proofs of the mutual handshake.
///
/// ```
/// client proof = HMAC(secret, "tradetap-client" | client nonce | server nonce | server id u32 LE)
/// server proof = HMAC(secret, "tradetap-server" | client nonce | server nonce | server id u32 LE)
/// ```
/// Both nonces are in both proofs, so neither side can replay an old proof to a
/// fresh nonce; distinct labels stop a proof being reflected back to its sender.
public enum HandshakeProof {
  /// The client's proof.
  public static func client(secret: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8], serverId: UInt32) -> [UInt8] {
    proof(label: "tradetap-client", secret, clientNonce, serverNonce, serverId)
  }

  /// The server's proof.
  public static func server(secret: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8], serverId: UInt32) -> [UInt8] {
    proof(label: "tradetap-server", secret, clientNonce, serverNonce, serverId)
  }

  static func proof(label: String, _ secret: [UInt8], _ clientNonce: [UInt8], _ serverNonce: [UInt8], _ serverId: UInt32) -> [UInt8] {
    var message = Array(label.utf8)
    message.append(contentsOf: clientNonce)
    message.append(contentsOf: serverNonce)
    for i in 0..<4 { message.append(UInt8(truncatingIfNeeded: serverId >> (8 * UInt32(i)))) }
    return HMACSHA256.authenticationCode(for: message, key: secret)
  }
}

/// Why a handshake failed. Each maps to the ``ErrorCode`` the failing side sends.
public enum HandshakeError: Error, Sendable, Hashable {
  /// The peer's proof does not verify: it does not hold this server's secret.
  case wrongSecret
  /// The collector has no secret for this server id. Thrown at authenticate, not at
  /// hello, and answered exactly as ``wrongSecret`` (same code, same text): a
  /// stranger cannot tell a configured id from an unconfigured one. The case is
  /// distinct only for the collector's own log.
  case unknownServerId(UInt32)
  /// The client nonce was used recently.
  case replayedHandshake
  /// A nonce of the wrong length (ours from the random source, or the peer's).
  case invalidNonce
  /// A message that is not the next step of the handshake.
  case unexpectedMessage(MessageType)
  /// The peer sent an error frame instead of the next step.
  case rejected(ErrorCode, String)
  /// The handshake already finished or failed.
  case notInProgress

  /// The code to send in the error frame before closing.
  public var errorCode: ErrorCode {
    switch self {
    case .wrongSecret, .unknownServerId: .wrongSecret
    case .replayedHandshake: .replayedHandshake
    case .rejected(let code, _): code
    case .invalidNonce, .unexpectedMessage, .notInProgress: .protocolViolation
    }
  }

  /// The error frame's message for this failure.
  public var errorMessage: Message {
    let text: String
    switch self {
    case .wrongSecret, .unknownServerId: text = "authentication failed: wrong secret"
    case .replayedHandshake: text = "replayed handshake: client nonce seen before"
    case .invalidNonce: text = "nonce must be \(WireLimits.nonceLength) bytes"
    case .unexpectedMessage(let type): text = "unexpected \(type) during handshake"
    case .rejected(_, let message): text = message
    case .notInProgress: text = "handshake not in progress"
    }
    return .error(ErrorMessage(code: errorCode, message: text))
  }
}
