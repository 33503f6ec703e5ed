/// Remembers recent client nonces so a replayed hello is refused. Bounded: the
/// oldest nonce is forgotten when `capacity` is reached. One per collector, shared
/// by its connections (the caller serialises access).
public struct NonceReplayGuard: Sendable {
  public let capacity: Int
  var seen: Set<[UInt8]> = []
  var order: [[UInt8]] = []
  var oldest = 0

  public init(capacity: Int = 65_536) {
    self.capacity = max(1, capacity)
  }

  /// Records `nonce`; `false` if it was already recorded (a replay).
  public mutating func recordIfNew(_ nonce: [UInt8]) -> Bool {
    guard !seen.contains(nonce) else { return false }
    if order.count < capacity {
      order.append(nonce)
    } else {
      seen.remove(order[oldest])
      order[oldest] = nonce
      oldest = (oldest + 1) % capacity
    }
    seen.insert(nonce)
    return true
  }

  /// Nonces remembered now.
  public var count: Int { seen.count }
}

/// The collector's side of the handshake, as a pure state machine (no I/O):
///
/// ```
///  receive hello (fresh nonce, any server id)  ─▶ send challenge
///  receive authenticate (client proof verified) ─▶ authenticated(serverId)
///  (an unknown server id is challenged like a known one and fails here, answered
///   exactly as a wrong secret: configured ids cannot be enumerated)
///  makeWelcome(lastDurableSequence:) ─▶ send welcome
/// ```
/// On a thrown ``HandshakeError`` send `error.errorMessage`, log, and close.
public struct ServerHandshake: Sendable {
  /// What to do after a received message.
  public enum Step: Sendable, Hashable {
    /// Send this message and wait for the next.
    case send(Message)
    /// The client proved it holds the secret of `serverId`; look up the resume
    /// point and send ``ServerHandshake/makeWelcome(lastDurableSequence:heartbeatMillis:)``.
    case authenticated(serverId: UInt32)
  }

  enum State: Sendable {
    case awaitingHello
    /// `secret` nil: the hello's server id has none configured (fails at authenticate).
    case awaitingAuthenticate(hello: Hello, secret: [UInt8]?)
    case authenticated(hello: Hello, secret: [UInt8])
    case done
    case failed
  }

  let serverNonce: [UInt8]
  var state = State.awaitingHello

  /// - Parameter serverNonce: 32 fresh random bytes.
  /// - Throws: ``HandshakeError/invalidNonce`` if not 32 bytes.
  public init(serverNonce: [UInt8]) throws(HandshakeError) {
    guard serverNonce.count == WireLimits.nonceLength else { throw .invalidNonce }
    self.serverNonce = serverNonce
  }

  /// The authenticated server id, once known.
  public var authenticatedServerId: UInt32? {
    switch state {
    case .authenticated(let hello, _): hello.serverId
    default: nil
    }
  }

  /// The identity the authenticated client's hello declared (nil: none sent, or
  /// not authenticated yet). Trust it only once authenticated.
  public var authenticatedServerIdentity: ServerIdentity? {
    switch state {
    case .authenticated(let hello, _): hello.server
    default: nil
    }
  }

  /// Feeds the plugin's next message.
  /// - Parameters:
  ///   - secrets: the secret of a server id, `nil` when unknown.
  ///   - replayGuard: the collector's recent client nonces.
  public mutating func receive(
    _ message: Message, secrets: (UInt32) -> [UInt8]?, replayGuard: inout NonceReplayGuard
  ) throws(HandshakeError) -> Step {
    let current = state
    state = .failed
    switch (current, message) {
    case (.awaitingHello, .hello(let hello)):
      guard hello.clientNonce.count == WireLimits.nonceLength else { throw .invalidNonce }
      guard replayGuard.recordIfNew(hello.clientNonce) else { throw .replayedHandshake }
      state = .awaitingAuthenticate(hello: hello, secret: secrets(hello.serverId))
      return .send(.challenge(Challenge(serverNonce: serverNonce)))
    case (.awaitingAuthenticate(let hello, let known), .authenticate(let auth)):
      // An unknown id costs the same HMAC and comparison as a known one (a key
      // nobody holds: this connection's nonce), then fails as a wrong secret.
      let expected = HandshakeProof.client(
        secret: known ?? serverNonce, clientNonce: hello.clientNonce, serverNonce: serverNonce, serverId: hello.serverId)
      let verified = constantTimeEqual(expected, auth.clientProof)
      guard let secret = known else { throw .unknownServerId(hello.serverId) }
      guard verified else { throw .wrongSecret }
      state = .authenticated(hello: hello, secret: secret)
      return .authenticated(serverId: hello.serverId)
    case (_, .error(let e)):
      throw .rejected(e.code, e.message)
    case (.authenticated, _), (.done, _), (.failed, _):
      throw .notInProgress
    default:
      throw .unexpectedMessage(message.type)
    }
  }

  /// The welcome that completes the handshake, with the server's proof.
  /// - Parameters:
  ///   - lastDurableSequence: the last sequence the ledger holds for this server (0: none).
  ///   - heartbeatMillis: the heartbeat interval the collector expects (0: plugin's own).
  /// - Throws: ``HandshakeError/notInProgress`` unless just authenticated.
  public mutating func makeWelcome(lastDurableSequence: UInt64, heartbeatMillis: UInt32 = 0) throws(HandshakeError) -> Message {
    guard case .authenticated(let hello, let secret) = state else { throw .notInProgress }
    state = .done
    let proof = HandshakeProof.server(
      secret: secret, clientNonce: hello.clientNonce, serverNonce: serverNonce, serverId: hello.serverId)
    return .welcome(Welcome(serverProof: proof, lastDurableSequence: lastDurableSequence, heartbeatMillis: heartbeatMillis))
  }
}
