import Testing
import TradeTapWire

@Suite struct HandshakeSpecification {
  let secret = Array("s3cret-of-server-7".utf8)
  func secrets(_ id: UInt32) -> [UInt8]? { id == 7 ? Array("s3cret-of-server-7".utf8) : nil }

  /// Runs both machines against each other through real frames.
  func run(clientSecret: [UInt8], serverId: UInt32 = 7, clientNonce: [UInt8] = sequentialNonce,
           guard replay: inout NonceReplayGuard) throws -> (client: ClientHandshake.Step, server: UInt32) {
    var client = try ClientHandshake(serverId: serverId, secret: clientSecret, clientNonce: clientNonce)
    var server = try ServerHandshake(serverNonce: serverSideNonce)
    func wire(_ m: Message) throws -> Message {  // through the encoder and decoder
      var decoder = FrameDecoder()
      decoder.append(FrameEncoder().encode(m))
      return try Message(frame: try #require(try decoder.nextFrame()))
    }
    guard case .send(let challenge) = try server.receive(try wire(client.start()), secrets: secrets, replayGuard: &replay)
    else { throw HandshakeError.notInProgress }
    guard case .send(let auth) = try client.receive(try wire(challenge)) else { throw HandshakeError.notInProgress }
    guard case .authenticated(let id) = try server.receive(try wire(auth), secrets: secrets, replayGuard: &replay)
    else { throw HandshakeError.notInProgress }
    let welcome = try server.makeWelcome(lastDurableSequence: 41, heartbeatMillis: 5000)
    return (try client.receive(try wire(welcome)), id)
  }

  @Test func theCollectorLearnsTheServerIdentityFromTheHelloOnceAuthenticated() throws {
    let identity = ServerIdentity(name: "Live 1", platform: 5, utcOffsetMinutes: 120)
    var client = try ClientHandshake(serverId: 7, secret: secret, clientNonce: sequentialNonce, server: identity)
    var server = try ServerHandshake(serverNonce: serverSideNonce)
    var replay = NonceReplayGuard()
    let hello = try Message(frame: client.start().frame)
    guard case .send(let challenge) = try server.receive(hello, secrets: secrets, replayGuard: &replay) else {
      Issue.record("no challenge"); return
    }
    #expect(server.authenticatedServerIdentity == nil, "not before the proof")
    guard case .send(let auth) = try client.receive(challenge) else { Issue.record("no authenticate"); return }
    _ = try server.receive(auth, secrets: secrets, replayGuard: &replay)
    #expect(server.authenticatedServerIdentity == identity)
  }

  @Test func authenticatesBothSidesAndHandsTheResumePoint() throws {
    var replay = NonceReplayGuard()
    let (step, id) = try run(clientSecret: secret, guard: &replay)
    #expect(id == 7)
    guard case .established(let welcome) = step else { Issue.record("not established"); return }
    #expect(welcome.lastDurableSequence == 41 && welcome.heartbeatMillis == 5000)
  }

  @Test func refusesAWrongSecretWithWrongSecret() {
    var replay = NonceReplayGuard()
    #expect(throws: HandshakeError.wrongSecret) { try run(clientSecret: Array("guess".utf8), guard: &replay) }
    #expect(HandshakeError.wrongSecret.errorCode == .wrongSecret)
    #expect(HandshakeError.wrongSecret.errorMessage.type == .error)
  }

  @Test func challengesAnUnknownServerIdAndRefusesItAtAuthenticateExactlyAsAWrongSecret() throws {
    // Issue 10, finding 9: answering hello with "unknown server id" let anyone
    // enumerate the configured ids. Now an unknown id gets a challenge like any
    // other and the same refusal, code and text, as a wrong secret.
    var replay = NonceReplayGuard()
    var client = try ClientHandshake(serverId: 8, secret: secret, clientNonce: sequentialNonce)
    var server = try ServerHandshake(serverNonce: serverSideNonce)
    guard case .send(.challenge(let challenge)) = try server.receive(client.start(), secrets: secrets, replayGuard: &replay)
    else { Issue.record("an unknown id was not challenged"); return }
    guard case .send(let auth) = try client.receive(.challenge(challenge)) else { Issue.record("no authenticate"); return }
    #expect(throws: HandshakeError.unknownServerId(8)) { try server.receive(auth, secrets: secrets, replayGuard: &replay) }
    #expect(HandshakeError.unknownServerId(8).errorCode == .wrongSecret)
    #expect(HandshakeError.unknownServerId(8).errorMessage == HandshakeError.wrongSecret.errorMessage)
  }

  @Test func refusesAReplayedClientNonce() throws {
    var replay = NonceReplayGuard()
    _ = try run(clientSecret: secret, guard: &replay)
    #expect(throws: HandshakeError.replayedHandshake) { try run(clientSecret: secret, guard: &replay) }
    #expect(HandshakeError.replayedHandshake.errorCode == .replayedHandshake)
  }

  @Test func forgetsTheOldestNonceBeyondCapacity() {
    var replay = NonceReplayGuard(capacity: 2)
    let first = [replay.recordIfNew([1]), replay.recordIfNew([2]), replay.recordIfNew([3])]
    #expect(first == [true, true, true])
    #expect(replay.count == 2)
    let forgotten = replay.recordIfNew([1])
    let remembered = replay.recordIfNew([3])
    #expect(forgotten && !remembered)
  }

  @Test func clientRefusesAServerThatDoesNotHoldTheSecret() throws {
    var client = try ClientHandshake(serverId: 7, secret: secret, clientNonce: sequentialNonce)
    _ = client.start()
    _ = try client.receive(.challenge(Challenge(serverNonce: serverSideNonce)))
    #expect(throws: HandshakeError.wrongSecret) {
      try client.receive(.welcome(Welcome(serverProof: sampleProof, lastDurableSequence: 0, heartbeatMillis: 0)))
    }
    #expect(!client.isEstablished)
  }

  @Test func clientReportsTheCollectorsErrorFrame() throws {
    var client = try ClientHandshake(serverId: 7, secret: secret, clientNonce: sequentialNonce)
    _ = client.start()
    #expect(throws: HandshakeError.rejected(.serverBusy, "later")) {
      try client.receive(.error(ErrorMessage(code: .serverBusy, message: "later")))
    }
  }

  @Test func serverRefusesMessagesOutOfOrder() throws {
    var replay = NonceReplayGuard()
    var server = try ServerHandshake(serverNonce: serverSideNonce)
    #expect(throws: HandshakeError.unexpectedMessage(.authenticate)) {
      try server.receive(.authenticate(Authenticate(clientProof: sampleProof)), secrets: secrets, replayGuard: &replay)
    }
    #expect(throws: HandshakeError.notInProgress) {  // failed machines stay failed
      try server.receive(.hello(Hello(serverId: 7, clientNonce: sequentialNonce, software: "")), secrets: secrets, replayGuard: &replay)
    }
    var fresh = try ServerHandshake(serverNonce: serverSideNonce)
    #expect(throws: HandshakeError.notInProgress) { try fresh.makeWelcome(lastDurableSequence: 0) }
  }

  @Test func refusesNoncesOfTheWrongLength() {
    #expect(throws: HandshakeError.invalidNonce) { try ClientHandshake(serverId: 7, secret: secret, clientNonce: [1, 2]) }
    #expect(throws: HandshakeError.invalidNonce) { try ServerHandshake(serverNonce: []) }
  }

  @Test func drawsTheNonceFromTheCallersRandomSource() throws {
    var client = try ClientHandshake(serverId: 7, secret: secret) { $0 = [UInt8](repeating: 0x42, count: $0.count) }
    guard case .hello(let hello) = client.start() else { Issue.record("no hello"); return }
    #expect(hello.clientNonce == [UInt8](repeating: 0x42, count: 32))
  }

  @Test func proofsBindTheirLabelNoncesAndServerId() {
    let c = HandshakeProof.client(secret: secret, clientNonce: sequentialNonce, serverNonce: serverSideNonce, serverId: 7)
    #expect(c != HandshakeProof.server(secret: secret, clientNonce: sequentialNonce, serverNonce: serverSideNonce, serverId: 7))
    #expect(c != HandshakeProof.client(secret: secret, clientNonce: sequentialNonce, serverNonce: serverSideNonce, serverId: 8))
    #expect(c != HandshakeProof.client(secret: secret, clientNonce: serverSideNonce, serverNonce: sequentialNonce, serverId: 7))
    // The definition, spelled out: HMAC(secret, "tradetap-client" | cn | sn | id LE).
    let message = Array("tradetap-client".utf8) + sequentialNonce + serverSideNonce + [7, 0, 0, 0]
    #expect(c == HMACSHA256.authenticationCode(for: message, key: secret))
  }
}
