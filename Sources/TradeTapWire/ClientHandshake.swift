/// The plugin's side of the handshake, as a pure state machine (no I/O):
///
/// ```
///  start() ─▶ send hello ─▶ receive challenge ─▶ send authenticate
///         ─▶ receive welcome (server proof verified) ─▶ established
/// ```
/// Any error frame, wrong message or bad server proof fails it.
public struct ClientHandshake: Sendable {
  /// What to do after a received message.
  public enum Step: Sendable, Hashable {
    /// Send this message and wait for the next.
    case send(Message)
    /// Authenticated both ways; resume after `welcome.lastDurableSequence`.
    case established(Welcome)
  }

  enum State: Sendable { case idle, awaitingChallenge, awaitingWelcome(serverNonce: [UInt8]), established, failed }

  public let serverId: UInt32
  let secret: [UInt8]
  let clientNonce: [UInt8]
  let software: String
  let server: ServerIdentity?
  var state = State.idle

  /// - Parameters:
  ///   - serverId: this trade server's id.
  ///   - secret: the shared secret (`SecretFile`).
  ///   - clientNonce: 32 fresh random bytes (the plugin uses `getrandom`).
  ///   - software: free text for the collector's logs.
  ///   - server: the host's identity, sent in the hello for the ledger (nil: none).
  /// - Throws: ``HandshakeError/invalidNonce`` if the nonce is not 32 bytes.
  public init(
    serverId: UInt32, secret: [UInt8], clientNonce: [UInt8], software: String = "TradeTap",
    server: ServerIdentity? = nil
  ) throws(HandshakeError) {
    guard clientNonce.count == WireLimits.nonceLength else { throw .invalidNonce }
    self.serverId = serverId
    self.secret = secret
    self.clientNonce = clientNonce
    self.software = software
    self.server = server
  }

  /// Convenience: draws the nonce from `random`.
  public init(
    serverId: UInt32, secret: [UInt8], software: String = "TradeTap",
    random: (inout [UInt8]) -> Void
  ) throws(HandshakeError) {
    var nonce = [UInt8](repeating: 0, count: WireLimits.nonceLength)
    random(&nonce)
    try self.init(serverId: serverId, secret: secret, clientNonce: nonce, software: software)
  }

  /// `true` once the server's proof verified.
  public var isEstablished: Bool { if case .established = state { true } else { false } }

  /// The hello that opens the connection.
  public mutating func start() -> Message {
    state = .awaitingChallenge
    return .hello(Hello(serverId: serverId, clientNonce: clientNonce, software: software, server: server))
  }

  /// Feeds the collector's next message.
  public mutating func receive(_ message: Message) throws(HandshakeError) -> Step {
    let current = state
    state = .failed
    if case .error(let e) = message { throw .rejected(e.code, e.message) }
    switch (current, message) {
    case (.awaitingChallenge, .challenge(let c)):
      guard c.serverNonce.count == WireLimits.nonceLength else { throw .invalidNonce }
      state = .awaitingWelcome(serverNonce: c.serverNonce)
      let proof = HandshakeProof.client(
        secret: secret, clientNonce: clientNonce, serverNonce: c.serverNonce, serverId: serverId)
      return .send(.authenticate(Authenticate(clientProof: proof)))
    case (.awaitingWelcome(let serverNonce), .welcome(let w)):
      let expected = HandshakeProof.server(
        secret: secret, clientNonce: clientNonce, serverNonce: serverNonce, serverId: serverId)
      guard constantTimeEqual(expected, w.serverProof) else { throw .wrongSecret }
      state = .established
      return .established(w)
    case (.idle, _), (.established, _), (.failed, _):
      throw .notInProgress
    default:
      throw .unexpectedMessage(message.type)
    }
  }
}
