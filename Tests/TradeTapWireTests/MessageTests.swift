import Testing
import TradeTapEvents
import TradeTapWire

@Suite struct MessageSpecification {
  @Test func roundTripsEveryMessageType() throws {
    #expect(Set(sampleMessages.map(\.1.type)) == Set(MessageType.allCases))
    for (_, message) in sampleMessages {
      #expect(try Message(frame: message.frame) == message)
    }
  }

  @Test func reportsTruncationOfEveryMessageAtEveryLength() throws {
    for (_, message) in sampleMessages {
      let frame = message.frame
      for cut in 0..<frame.payload.count {
        // A hello ending right after `software` is complete: the server identity is optional.
        if case .hello(var hello) = message, hello.server != nil, cut == 38 + hello.software.utf8.count {
          hello.server = nil
          #expect(try Message(frame: Frame(type: frame.type, payload: Array(frame.payload[..<cut]))) == .hello(hello))
          continue
        }
        #expect(throws: (any Error).self) { try Message(frame: Frame(type: frame.type, payload: Array(frame.payload[..<cut]))) }
      }
    }
  }

  @Test func rejectsAHelloWhoseServerIdentityNamesNoPlatform() {
    let hello = Message.hello(Hello(serverId: 7, clientNonce: sequentialNonce, software: "tt",
                                    server: ServerIdentity(name: "x", platform: 3, utcOffsetMinutes: 0)))
    #expect(throws: MessageDecodingError.invalidField("platform 3")) { try Message(frame: hello.frame) }
  }

  @Test func rejectsTrailingBytes() {
    let frame = Message.ack(Ack(throughSequence: 1)).frame
    #expect(throws: MessageDecodingError.trailingBytes(1)) { try Message(frame: Frame(type: frame.type, payload: frame.payload + [0])) }
  }

  @Test func rejectsABatchWhoseSequencesAreNotConsecutive() {
    let batch = EventBatch(firstSequence: 10, events: [sampleDealEvent(sequence: 10), sampleDealEvent(sequence: 12)])
    #expect(throws: MessageDecodingError.nonConsecutiveSequence(index: 1, expected: 11, found: 12)) {
      try Message(frame: Message.eventBatch(batch).frame)
    }
  }

  @Test func rejectsABatchAboveTheEventLimit() {
    var w = BinaryWriter()
    w.write(UInt64(1)); w.write(UInt32(WireLimits.maxEventsPerBatch + 1))
    #expect(throws: MessageDecodingError.tooManyEvents(UInt32(WireLimits.maxEventsPerBatch + 1))) {
      try Message(frame: Frame(type: .eventBatch, payload: w.bytes))
    }
  }

  @Test func namesTheEventThatDoesNotDecode() {
    var payload = Message.eventBatch(EventBatch(firstSequence: 1, events: [sampleDealEvent(sequence: 1)])).encodePayload()
    payload[12 + 4] = 9  // event format version
    #expect(throws: MessageDecodingError.event(index: 0, .unsupportedVersion(9))) {
      try Message(frame: Frame(type: .eventBatch, payload: payload))
    }
  }

  @Test func buildsBatchesWithinTheLimitsThatDecodeToTheSameEvents() throws {
    var builder = EventBatchBuilder(firstSequence: 100, maxPayload: 2_000)
    var appended: [Event] = []
    var sequence: UInt64 = 100
    while builder.append(sampleDealEvent(sequence: sequence)) {
      appended.append(sampleDealEvent(sequence: sequence))
      sequence += 1
    }
    #expect(!appended.isEmpty && builder.payloadSize <= 2_000)
    let wrongSequence = builder.append(sampleDealEvent(sequence: 999))
    #expect(!wrongSequence)  // a sequence that is not the next one is refused too
    var decoder = FrameDecoder()
    decoder.append(builder.finishFrame())
    let message = try Message(frame: try #require(try decoder.nextFrame()))
    #expect(message == .eventBatch(EventBatch(firstSequence: 100, events: appended)))
    #expect(builder.finishFrame() == FrameEncoder().encode(message))
  }

  @Test func capsABatchAtTheMaximumEventCount() {
    var builder = EventBatchBuilder(firstSequence: 1, maxEvents: 3)
    let accepted = (1...4).map { builder.append(sampleDealEvent(sequence: UInt64($0))) }
    #expect(accepted == [true, true, true, false])
    #expect(builder.count == 3)
  }

  @Test func cutsLongErrorTextAtTheLimitOnACharacterBoundary() throws {
    let long = String(repeating: "é", count: 2_000)
    let decoded = try Message(frame: Message.error(ErrorMessage(code: .serverBusy, message: long)).frame)
    guard case .error(let e) = decoded else { Issue.record("not an error"); return }
    #expect(e.code == .serverBusy && e.message.utf8.count == WireLimits.maxErrorMessageLength)
  }

  @Test func keepsUnknownErrorCodes() throws {
    let decoded = try Message(frame: Message.error(ErrorMessage(code: ErrorCode(rawValue: 999), message: "")).frame)
    #expect(decoded == .error(ErrorMessage(code: ErrorCode(rawValue: 999), message: "")))
  }
}

@Suite struct SnapshotChunkBuilderSpecification {
  @Test func buildsChunksWithinTheLimitThatDecodeToTheSameRecords() throws {
    var builder = SnapshotChunkBuilder(requestId: 9, chunkIndex: 2, maxPayload: 1_000)
    var appended: [Event] = []
    while builder.append(sampleUserSnapshot()) { appended.append(sampleUserSnapshot()) }
    #expect(!appended.isEmpty && builder.payloadSize <= 1_000)
    let frame = builder.finishFrame(isFinal: true)
    let expected = Message.snapshotChunk(SnapshotChunk(requestId: 9, chunkIndex: 2, isFinal: true, status: .ok, records: appended))
    #expect(frame == FrameEncoder().encode(expected))
  }

  @Test func reportsAScopeTheHostDoesNotOfferWithAnEmptyFinalChunk() throws {
    let frame = SnapshotChunkBuilder(requestId: 1, chunkIndex: 0).finishFrame(isFinal: true, status: .notOffered)
    var decoder = FrameDecoder()
    decoder.append(frame)
    let message = try Message(frame: try #require(try decoder.nextFrame()))
    #expect(message == .snapshotChunk(SnapshotChunk(requestId: 1, chunkIndex: 0, isFinal: true, status: .notOffered, records: [])))
  }

  @Test func reportsAHostQueryErrorWithItsCodeNeverAsAnEmptyBook() throws {
    let frame = SnapshotChunkBuilder(requestId: 9, chunkIndex: 0).finishFrame(isFinal: true, status: .hostError, hostResult: 6)
    #expect(hex(frame) == goldenVectors["snapshotChunkHostError"])
    var decoder = FrameDecoder()
    decoder.append(frame)
    let message = try Message(frame: try #require(try decoder.nextFrame()))
    #expect(message == .snapshotChunk(SnapshotChunk(requestId: 9, chunkIndex: 0, isFinal: true, status: .hostError, records: [], hostResult: 6)))
  }

  @Test func aHostErrorChunkCutBeforeItsCodeIsRefused() throws {
    var payload = Array(bytes(hex: try #require(goldenVectors["snapshotChunkHostError"])).dropFirst(16))
    payload.removeLast(4)
    #expect(throws: MessageDecodingError.self) { try Message(frame: Frame(type: MessageType.snapshotChunk.rawValue, payload: payload)) }
  }
}
