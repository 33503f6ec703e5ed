// libFuzzer target for the plugin's side of the wire: a hostile collector (built by
// Tools/fuzz/run.sh, not SwiftPM, with `@testable` access to TradeTapPluginCore).
//
// The real `CollectorSession` over a socketpair, a real journal in a temporary
// folder, and a fake host whose query functions answer what the data says. The data
// is a script of what the collector does:
//   [0]      records journaled before the first welcome (0…63)
//   [1..8]   the welcome's durable sequence (little endian, the whole UInt64 range)
//   [9]      the journal before it: 0 fresh, 1 settled at W = 0, 2 settled at W = [10..15]
//   then ops until the data ends, op = byte % 8:
//     0 send a batch    1 ack (8 bytes)        2 heartbeat
//     3 snapshot request (u32 id, scope, u64 login, i64 from, i64 to, open-only,
//       then the fake host's result code and record count for its query)
//     4 one snapshot turn   5 journal k records (k = byte % 16, kind byte each)
//     6 reconnect: a new session on the same journal, welcome (8 bytes)
//     7 an error frame (length byte, text)
// Invariants checked after every op (a violation is a crash, i.e. a finding): no
// trap anywhere, and the journal never releases a record that was not sent.
@testable import TradeTapPluginCore
import Glibc
import TradeServerAPI
import TradeTapEvents
import TradeTapJournal
import TradeTapWire

/// What the fake host's query functions answer (set by op 3).
nonisolated(unsafe) var hostResult: ts_result = TS_OK
nonisolated(unsafe) var hostRecordCount = 0
nonisolated(unsafe) var hostRecord = [UInt8](repeating: 0, count: 4096)

/// Calls `visit` with the fake record ``hostRecordCount`` times; answers ``hostResult``.
func visitRecords(_ visit: (UnsafeRawPointer) -> Int32) -> ts_result {
  for _ in 0..<hostRecordCount {
    if hostRecord.withUnsafeBytes({ visit($0.baseAddress!) }) != 0 { break }
  }
  return hostResult
}

let fakeAPI: UnsafeMutablePointer<ts_server_api> = {
  let api = UnsafeMutablePointer<ts_server_api>.allocate(capacity: 1)
  api.initialize(to: ts_server_api())
  api.pointee.struct_size = UInt32(MemoryLayout<ts_server_api>.size)
  api.pointee.api_version = UInt32(TS_API_VERSION)
  api.pointee.log = { _, _, message in _ = strlen(message!) }
  api.pointee.users_enum = { _, visit, context in
    visitRecords { visit!(context, $0.assumingMemoryBound(to: ts_user.self)) }
  }
  api.pointee.positions_enum = { _, _, visit, context in
    visitRecords { visit!(context, $0.assumingMemoryBound(to: ts_position.self)) }
  }
  api.pointee.deals_enum = { _, _, _, visit, context in
    visitRecords { visit!(context, $0.assumingMemoryBound(to: ts_deal.self)) }
  }
  api.pointee.trades_enum = { _, _, _, visit, context in
    visitRecords { visit!(context, $0.assumingMemoryBound(to: ts_trade_record.self)) }
  }
  api.pointee.user_get = { _, _, user in
    hostRecord.withUnsafeBytes { bytes in
      _ = memcpy(user!, bytes.baseAddress!, min(bytes.count, MemoryLayout<ts_user>.size))
    }
    user!.pointee.struct_size = UInt32(MemoryLayout<ts_user>.size)
    return hostResult
  }
  return api
}()
let counterWords = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 64)

/// Reads the fuzz data front to back; past the end every read is zero.
struct Script {
  let bytes: [UInt8]
  var index = 0
  var isEmpty: Bool { index >= bytes.count }
  mutating func byte() -> UInt8 {
    defer { index += 1 }
    return index < bytes.count ? bytes[index] : 0
  }
  mutating func u64() -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(byte()) << (8 * $1) } }
  mutating func u32() -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(byte()) << (8 * $1) } }
}

/// The collector's end of the socketpair: drains what the session sent.
struct CollectorEnd {
  let fd: Int32
  var decoder = FrameDecoder()
  /// Highest event sequence the session sent on any connection.
  var highestSent: UInt64 = 0

  mutating func drain() {
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
      if n <= 0 { break }
      buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
    }
    while let frame = try? decoder.nextFrame() {
      guard let message = try? Message(frame: frame) else { fatalError("the session sent an undecodable frame") }
      if case .eventBatch(let batch) = message, let last = batch.events.last?.sequence {
        highestSent = max(highestSent, last)
      }
    }
  }
}

func journalRecords(_ journal: Journal, count: Int, script: inout Script) {
  for _ in 0..<count {
    guard let slot = journal.producer.claim() else { return }
    let kinds = RecordKind.allCases
    let kind = kinds[Int(script.byte()) % kinds.count]
    for offset in stride(from: 0, to: 64, by: 1) { slot.payload.storeBytes(of: script.byte(), toByteOffset: offset, as: UInt8.self) }
    journal.producer.commit(slot, kind: kind.rawValue, flags: [], mode: 0, declaredSize: 64, declaredSecondarySize: 0,
                            payloadLength: 64)
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let data, size > 0 else { return 0 }
  var script = Script(bytes: Array(UnsafeBufferPointer(start: data, count: size)))
  // /dev/shm: every input gets a fresh 1 MiB journal; in memory that costs no disk I/O.
  var template = Array("/dev/shm/tradetap-fuzz-plugin-XXXXXX".utf8CString)
  guard let directory = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) })
  else { return 0 }
  defer {
    unlink(directory + "/journal.ttj")
    rmdir(directory)
  }
  guard let journal = try? Journal.open(directory: directory, sizeMB: 1) else { return 0 }
  defer { journal.close() }
  var pair: [Int32] = [0, 0]
  guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { return 0 }
  defer { close(pair[1]) }
  _ = fcntl(pair[0], F_SETFL, O_NONBLOCK)
  guard let stop = StopSignal() else { close(pair[0]); return 0 }
  let log = HostLog(api: UnsafePointer(fakeAPI))
  var source = JournalEventSource(
    serverId: 7, utcOffsetMinutes: 120, api: UnsafePointer(fakeAPI),
    counters: PluginCounterWords(words: counterWords, journal: journal), log: log, groups: .everyGroup)
  var collector = CollectorEnd(fd: pair[1])

  journalRecords(journal, count: Int(script.byte() % 64), script: &script)
  let durable = script.u64()
  switch script.byte() % 3 {
  case 1: journal.settle(wireOffset: 0)
  case 2: journal.settle(wireOffset: script.u64() & 0xFFFF_FFFF_FFFF)
  default: break
  }
  let stream = CollectorStream(fd: pair[0], ssl: nil, stop: stop, peer: "fuzz")
  func newSession() -> CollectorSession {
    CollectorSession(stream: stream, journal: journal, log: log, serverId: 7, heartbeatSeconds: 1, stop: stop)
  }
  var session = newSession()
  var open = (try? session.resume(after: durable)) != nil

  while !script.isEmpty {
    let op = script.byte() % 8
    do throws(SenderError) {
      switch op {
      case 0: if open { _ = try session.sendBatch(&source) }
      case 1: let through = script.u64(); if open { try session.handle(.ack(Ack(throughSequence: through))) }
      case 2: if open { try session.handle(.heartbeat(Heartbeat(timestampNanos: script.u64()))) }
      case 3:
        let request = SnapshotRequest(
          requestId: script.u32(), scope: SnapshotScope(rawValue: script.byte() % 5) ?? .deals, login: script.u64(),
          fromBrokerMilliseconds: Int64(bitPattern: script.u64()), toBrokerMilliseconds: Int64(bitPattern: script.u64()),
          openOnly: script.byte() & 1 == 1)
        hostResult = [TS_OK, TS_ERR_NOT_FOUND, TS_ERR_INVALID_ARGUMENT, TS_ERR_IO][Int(script.byte() % 4)]
        hostRecordCount = Int(script.byte() % 64)
        for index in 0..<64 { hostRecord[index * 8 % hostRecord.count] = script.byte() }
        if open { try session.handle(.snapshotRequest(request)) }
      case 4:
        if open, let chunk = session.snapshots.nextChunk(source: &source, log: log, now: UInt64.max / 2) {
          try session.write(chunk)
        }
      case 5: journalRecords(journal, count: Int(script.byte() % 16), script: &script)
      case 6:
        let claimed = script.u64()
        session = newSession()
        try session.resume(after: claimed)
        open = true
      default:
        let text = String(decoding: (0..<Int(script.byte())).map { _ in script.byte() }, as: UTF8.self)
        if open { try session.handle(.error(ErrorMessage(code: .internalError, message: text))) }
      }
    } catch {
      open = false  // the sender would log it, close and back off; the journal stays
    }
    collector.drain()
    // The one promise a hostile collector must not break: nothing unsent is released.
    let releasedWire = journal.releasedSequence == 0 ? 0 : journal.releasedSequence &+ journal.wireOffset
    if releasedWire > collector.highestSent {
      fatalError("journal released through wire \(releasedWire) but only \(collector.highestSent) was ever sent")
    }
  }
  return 0
}
