import TradeTapEvents
import TradeTapWire

let sampleTime = BrokerTime(brokerMilliseconds: 1_700_000_000_123, utcOffsetMinutes: 120)

func sampleDealEvent(sequence: UInt64) -> Event {
  Event(
    serverId: 7, sequence: sequence, kind: .dealAdd, hookTimestampNanos: 1_000 + sequence, utcOffsetMinutes: 120,
    body: .deal(
      Deal(
        deal: 1000 + sequence, externalId: "", login: 5001, order: 2001, positionId: 2001, action: .buy, entry: .in,
        reason: 0, symbol: "EURUSD", digits: 5, currencyDigits: 2, time: sampleTime,
        price: ExactDecimal("1.08345")!, volumeExt: 100_000_000, contractSize: ExactDecimal("100000")!,
        profit: ExactDecimal("-12.30")!, commission: ExactDecimal("-3.50")!, storage: ExactDecimal("0.00")!,
        fee: ExactDecimal("0.00")!, comment: "")))
}

func sampleUserSnapshot() -> Event {
  Event(
    serverId: 7, sequence: 0, kind: .userSnapshot, hookTimestampNanos: 0, utcOffsetMinutes: 120,
    body: .user(
      User(
        login: 5001, group: "real", name: "Ann", email: "", country: "", currency: "USD", currencyDigits: 2,
        leverage: 100, marginMode: .retailHedging, balance: ExactDecimal("10000.55")!,
        credit: ExactDecimal("500.00")!, registration: sampleTime, lastUpdate: sampleTime, comment: "")))
}

let sequentialNonce: [UInt8] = (0..<32).map { UInt8($0) }
let serverSideNonce: [UInt8] = (0..<32).map { UInt8(0xA0 + $0 % 16) }
let sampleProof: [UInt8] = (0..<32).map { UInt8(0xF0 - $0) }

/// One message of every type, with the fixed values the golden vectors use.
let sampleMessages: [(String, Message)] = [
  ("hello", .hello(Hello(serverId: 7, clientNonce: sequentialNonce, software: "tt"))),
  ("helloWithServer", .hello(Hello(serverId: 7, clientNonce: sequentialNonce, software: "tt",
    server: ServerIdentity(name: "Live 1", platform: 5, utcOffsetMinutes: 120)))),
  ("challenge", .challenge(Challenge(serverNonce: serverSideNonce))),
  ("authenticate", .authenticate(Authenticate(clientProof: sampleProof))),
  ("welcome", .welcome(Welcome(serverProof: sampleProof, lastDurableSequence: 41, heartbeatMillis: 5000))),
  ("eventBatch", .eventBatch(EventBatch(firstSequence: 42, events: [sampleDealEvent(sequence: 42)]))),
  ("eventBatchRefusedGap", .eventBatch(EventBatch(firstSequence: 43, events: [
    Event(serverId: 7, sequence: 43, kind: .gap, hookTimestampNanos: 1_043, utcOffsetMinutes: 120,
          body: .gap(Gap(firstSequence: 43, count: 1, reason: .overflow, refusedEvents: 952)))]))),
  ("ack", .ack(Ack(throughSequence: 42))),
  ("heartbeat", .heartbeat(Heartbeat(timestampNanos: 0x0102_0304_0506_0708))),
  ("gapNotice", .gapNotice(GapNotice(firstSequence: 43, count: 2, reason: .overflow))),
  ("snapshotRequest", .snapshotRequest(SnapshotRequest(requestId: 9, scope: .deals, login: 0,
    fromBrokerMilliseconds: 1_700_000_000_000, toBrokerMilliseconds: 1_700_086_400_000, openOnly: false))),
  ("snapshotChunk", .snapshotChunk(SnapshotChunk(requestId: 9, chunkIndex: 0, isFinal: true, status: .ok,
    records: [sampleUserSnapshot()]))),
  // The host's query answered TS_ERR_NOT_FOUND (6): status 3, no records, the code after them.
  ("snapshotChunkHostError", .snapshotChunk(SnapshotChunk(requestId: 9, chunkIndex: 0, isFinal: true,
    status: .hostError, records: [], hostResult: 6))),
  ("error", .error(ErrorMessage(code: .wrongSecret, message: "wrong secret"))),
  ("commandDeposit", .command(CommandMessage(commandId: 17, request: .moveMoney(MoneyMovement(
    login: 5001, type: .deposit, amount: ExactDecimal("250.50")!, comment: "crm 9"))))),
  ("commandOpenAccount", .command(CommandMessage(commandId: 18, request: .openAccount(AccountOpening(
    group: "real\\hedging", name: "Ann", email: "a@b.c", country: "CY", currency: "USD", currencyDigits: 2,
    leverage: 100))))),
  ("commandResultDone", .commandResult(CommandResultMessage(commandId: 17, status: .done, deal: 900_001, login: 5001))),
  ("commandResultNoMoney", .commandResult(CommandResultMessage(
    commandId: 19, status: .rejected, hostResult: 9, login: 5001, reason: "no_money"))),
]
