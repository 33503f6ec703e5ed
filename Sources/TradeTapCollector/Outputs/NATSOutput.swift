import CNATS
import Foundation
import Logging
import NIOPosix
import Synchronization

/// What `tradetap collector --nats ...` asks of the NATS JetStream output.
public struct NATSOutputSettings: Sendable {
  /// `nats://host:port` URLs of the cluster's nodes (`--nats URL[,URL...]`).
  public var servers: [String]
  public var stream = "TRADETAP"
  public var subjectPrefix = "tradetap"
  public var replicas = 1
  /// A `.creds` file (JWT + NKey seed), private to its owner (`--nats-creds`).
  public var credentialsFile: String?
  /// CA certificates the servers' TLS certificates must chain to (`--nats-ca-file`).
  public var caFile: String?
  /// How long a publish (or the whole pipelined batch) may wait for the stream's acks.
  public var ackTimeoutMilliseconds: Int64 = 5_000
  /// Most asynchronous publishes awaiting their ack at once.
  public var maxInFlight: Int64 = 256

  public init(servers: [String]) { self.servers = servers }
}

/// The NATS JetStream output (docs/outputs.md, "NATS JetStream"): every change is one
/// message on `<prefix>.<server_id>.<kind>` with the change's JSON as its body and
/// `Nats-Msg-Id: <server_id>-<change_id>`, so the stream's duplicate window drops the
/// resends that follow a retry or a restart. A batch is confirmed only once the stream
/// acknowledged every message of it.
///
/// Order: the first message of a batch is published and acknowledged alone; each later
/// one is published asynchronously (a bounded number in flight) with
/// `Nats-Expected-Last-Msg-Id` set to its predecessor's id, so the stream stores the
/// batch as an in-order prefix even when a node or the leader dies mid-batch. After a
/// failure the batch is sent again one message at a time, each acknowledged before the
/// next (no expectation needed), and pipelining resumes with the next batch.
///
/// Every libnats call runs on the output's own thread (a one-thread ``NIOThreadPool``),
/// never on an event loop.
final class NATSOutput: OutputDestination, @unchecked Sendable {
  typealias Settings = NATSOutputSettings

  /// Acks of the asynchronous publishes of the batch in flight (written by libnats' thread).
  private final class Acks: @unchecked Sendable {
    let counts = Mutex<(acked: Int, failed: Int, firstError: String?)>((0, 0, nil))
  }

  let settings: Settings
  private let logger: Logger
  private let pool = NIOThreadPool(numberOfThreads: 1)
  private let acks = Acks()
  // Touched only on the pool's thread.
  private var connection: OpaquePointer?
  private var jetStream: OpaquePointer?
  private var streamReady = false
  private var lastMismatch: String?
  private var previousFailed = false

  var kind: String { "nats" }
  /// A JetStream stream without a leader answers "no responders" at once during an
  /// election (~7-8 s with nats-server 2.9): a try a second costs nothing and resumes
  /// publishing within a second of the new leader (docs/outputs.md).
  var retryCeiling: Duration { .seconds(1) }
  var target: String { settings.servers.map(Self.redacted).joined(separator: ",") + " stream " + settings.stream }

  static func name(stream: String) -> String { "nats-" + stream }

  init(settings: Settings, logger: Logger) {
    self.settings = settings
    var logger = logger
    logger[metadataKey: "tradetap.output"] = "\(Self.name(stream: settings.stream))"
    self.logger = logger
    pool.start()
  }

  /// The URL without user information (which may carry credentials).
  static func redacted(_ url: String) -> String {
    guard let at = url.lastIndex(of: "@") else { return url }
    let scheme = url.range(of: "://").map { String(url[..<$0.upperBound]) } ?? ""
    return scheme + url[url.index(after: at)...]
  }

  func deliver(_ batch: OutputBatch) async throws {
    do {
      try await pool.runIfActive { try self.deliverOnThread(batch) }
    } catch let failure as OutputFailure {
      throw failure
    } catch {
      throw OutputFailure.retryable("nats: \(error)")
    }
  }

  /// Closes the connection and stops the thread (after the output's service stopped).
  func close() async {
    _ = try? await pool.runIfActive { self.disconnect() }
    try? await pool.shutdownGracefully()
  }

  // MARK: On the output's thread

  private func deliverOnThread(_ batch: OutputBatch) throws {
    try connectIfNeeded()
    try ensureStream()
    let messages = try batch.changes.map(Self.message(prefix: settings.subjectPrefix))
    do {
      if previousFailed {
        for message in messages { try publishAndWait(message, expectedLast: nil) }
      } else {
        try publishPipelined(messages)
      }
      previousFailed = false
    } catch {
      previousFailed = true
      throw error
    }
  }

  private struct Message {
    let subject: String
    let id: String
    let body: String
  }

  /// The subject's last token for a change: its entity (deal, order, position, trade,
  /// account, command), else `balance` or `execution` from its kind, else `other`.
  static func subjectKind(entity: String?, kind: String?) -> String {
    if let entity, ["deal", "order", "position", "trade", "account", "command"].contains(entity) { return entity }
    let kind = (kind ?? "").lowercased()
    if kind.contains("balance") || kind.contains("credit") { return "balance" }
    if ["execution", "request", "answer", "confirm"].contains(where: kind.contains) { return "execution" }
    if kind.contains("deal") { return "deal" }
    if kind.contains("order") { return "order" }
    if kind.contains("position") { return "position" }
    if kind.contains("user") || kind.contains("account") { return "account" }
    if kind.contains("trade") { return "trade" }
    return "other"
  }

  private static func message(prefix: String) -> (String) throws -> Message {
    { json in
      guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
        let id = (object["id"] as? NSNumber)?.int64Value, let server = (object["server_id"] as? NSNumber)?.int64Value
      else { throw OutputFailure.retryable("nats: a change without id or server_id: \(json.prefix(200))") }
      let kind = subjectKind(entity: object["entity"] as? String, kind: object["kind"] as? String)
      return Message(subject: "\(prefix).\(server).\(kind)", id: "\(server)-\(id)", body: json)
    }
  }

  private func connectIfNeeded() throws {
    if connection != nil, jetStream != nil { return }
    disconnect()
    var options: OpaquePointer?
    try check(natsOptions_Create(&options), "options")
    defer { natsOptions_Destroy(options) }
    let urls = settings.servers.map { strdup($0) }
    defer { urls.forEach { free($0) } }
    var pointers = urls.map { UnsafePointer<CChar>($0) }
    try check(natsOptions_SetServers(options, &pointers, Int32(pointers.count)), "servers")
    try check(natsOptions_SetName(options, "tradetap-collector"), "name")
    try check(natsOptions_SetTimeout(options, 2_000), "timeout")
    try check(natsOptions_SetMaxReconnect(options, -1), "reconnect")
    try check(natsOptions_SetReconnectWait(options, 250), "reconnect wait")
    try check(natsOptions_SetNoRandomize(options, false), "randomize")
    if let creds = settings.credentialsFile {
      try check(natsOptions_SetUserCredentialsFromFiles(options, creds, nil), "--nats-creds \(creds)")
    }
    if let ca = settings.caFile {
      try check(natsOptions_SetSecure(options, true), "tls")
      try check(natsOptions_LoadCATrustedCertificates(options, ca), "--nats-ca-file \(ca)")
    }
    var connection: OpaquePointer?
    try check(natsConnection_Connect(&connection, options), "connect to \(target)")
    var jsOptions = jsOptions()
    jsOptions_Init(&jsOptions)
    jsOptions.Wait = settings.ackTimeoutMilliseconds
    jsOptions.PublishAsync.MaxPending = settings.maxInFlight
    jsOptions.PublishAsync.AckHandler = { _, message, ack, error, closure in
      let acks = Unmanaged<Acks>.fromOpaque(closure!).takeUnretainedValue()
      acks.counts.withLock { counts in
        if ack != nil, error == nil {
          counts.acked += 1
        } else {
          counts.failed += 1
          if counts.firstError == nil, let error {
            let text = error.pointee.ErrText.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(error.pointee.Err))
            counts.firstError = "\(text) (\(error.pointee.ErrCode.rawValue))"
          }
        }
      }
      natsMsg_Destroy(message)
    }
    jsOptions.PublishAsync.AckHandlerClosure = Unmanaged.passUnretained(acks).toOpaque()
    var jetStream: OpaquePointer?
    let status = natsConnection_JetStream(&jetStream, connection, &jsOptions)
    guard status == NATS_OK else {
      natsConnection_Destroy(connection)
      throw failure(status, "jetstream context")
    }
    self.connection = connection
    self.jetStream = jetStream
    streamReady = false
    logger.info("connected to NATS \(target)")
  }

  private func disconnect() {
    if let jetStream { jsCtx_Destroy(jetStream) }
    if let connection {
      natsConnection_Close(connection)
      natsConnection_Destroy(connection)
    }
    jetStream = nil
    connection = nil
    streamReady = false
  }

  /// Creates the stream when absent; an existing stream must have the configuration
  /// the flags ask for. It is never changed: a mismatch stops publishing (retried, so
  /// an operator's fix is picked up) with one clear error line.
  private func ensureStream() throws {
    if streamReady { return }
    let subject = settings.subjectPrefix + ".>"
    var info: UnsafeMutablePointer<jsStreamInfo>?
    var jsError = jsErrCode(0)
    var status = js_GetStreamInfo(&info, jetStream, settings.stream, nil, &jsError)
    if status == NATS_NOT_FOUND {
      var config = jsStreamConfig()
      jsStreamConfig_Init(&config)
      status = settings.stream.withCString { name in
        subject.withCString { subjectPointer in
          var subjects: [UnsafePointer<CChar>?] = [subjectPointer]
          return subjects.withUnsafeMutableBufferPointer { buffer in
            config.Name = name
            config.Subjects = buffer.baseAddress
            config.SubjectsLen = 1
            config.Storage = js_FileStorage
            config.Replicas = Int64(settings.replicas)
            return js_AddStream(&info, jetStream, &config, nil, &jsError)
          }
        }
      }
      if status == NATS_OK {
        logger.info("created stream \(settings.stream): subjects \(subject), file storage, replicas \(settings.replicas)")
      }
    }
    guard status == NATS_OK, let info else { throw failure(status, "stream \(settings.stream)", jsError) }
    defer { jsStreamInfo_Destroy(info) }
    let config = info.pointee.Config.pointee
    let subjects = (0..<Int(config.SubjectsLen)).compactMap { config.Subjects?[$0].map { String(cString: $0) } }
    var differences: [String] = []
    if subjects != [subject] { differences.append("subjects \(subjects) (want [\(subject)])") }
    if config.Storage != js_FileStorage { differences.append("memory storage (want file)") }
    if config.Replicas != Int64(settings.replicas) {
      differences.append("replicas \(config.Replicas) (want \(settings.replicas))")
    }
    guard differences.isEmpty else {
      let reason = "stream \(settings.stream) exists with another configuration: \(differences.joined(separator: ", ")); it is never changed silently: fix the stream or the flags; not publishing"
      if reason != lastMismatch {
        logger.error("\(reason)")
        lastMismatch = reason
      }
      throw OutputFailure.retryable(reason)
    }
    lastMismatch = nil
    streamReady = true
  }

  private func makeMessage(_ message: Message, expectedLast: String?) throws -> OpaquePointer? {
    var pointer: OpaquePointer?
    let bytes = Array(message.body.utf8)
    try check(natsMsg_Create(&pointer, message.subject, nil, bytes, Int32(bytes.count)), "message")
    try check(natsMsgHeader_Set(pointer, "Nats-Msg-Id", message.id), "header")
    if let expectedLast { try check(natsMsgHeader_Set(pointer, "Nats-Expected-Last-Msg-Id", expectedLast), "header") }
    return pointer
  }

  private func publishAndWait(_ message: Message, expectedLast: String?) throws {
    let pointer = try makeMessage(message, expectedLast: expectedLast)
    defer { natsMsg_Destroy(pointer) }
    var ack: UnsafeMutablePointer<jsPubAck>?
    var jsError = jsErrCode(0)
    var options = jsPubOptions()
    jsPubOptions_Init(&options)
    options.MaxWait = settings.ackTimeoutMilliseconds
    let status = js_PublishMsg(&ack, jetStream, pointer, &options, &jsError)
    jsPubAck_Destroy(ack)
    guard status == NATS_OK else { throw failure(status, "publish \(message.subject) \(message.id)", jsError) }
  }

  private func publishPipelined(_ messages: [Message]) throws {
    guard let first = messages.first else { return }
    try publishAndWait(first, expectedLast: nil)
    guard messages.count > 1 else { return }
    acks.counts.withLock { $0 = (0, 0, nil) }
    var sent = 0
    var sendError: String?
    for index in 1..<messages.count {
      var pointer = try makeMessage(messages[index], expectedLast: messages[index - 1].id)
      let status = js_PublishMsgAsync(jetStream, &pointer, nil)
      if status != NATS_OK {
        natsMsg_Destroy(pointer)
        sendError = describe(status, "publish \(messages[index].id)")
        break
      }
      sent += 1
    }
    var options = jsPubOptions()
    jsPubOptions_Init(&options)
    options.MaxWait = settings.ackTimeoutMilliseconds
    let status = js_PublishAsyncComplete(jetStream, &options)
    if status != NATS_OK {
      // Forget what is still pending: a late ack must not count for the next batch.
      var pending = natsMsgList()
      if js_PublishAsyncGetPendingList(&pending, jetStream) == NATS_OK { natsMsgList_Destroy(&pending) }
    }
    let counts = acks.counts.withLock { $0 }
    if let sendError { throw OutputFailure.retryable(sendError) }
    if status != NATS_OK { throw failure(status, "waiting for \(sent - counts.acked) of \(sent) acks") }
    if counts.failed > 0 || counts.acked < sent {
      throw OutputFailure.retryable(
        "nats: \(counts.failed) of \(sent) publishes refused by the stream\(counts.firstError.map { ": " + $0 } ?? "")")
    }
  }

  private func check(_ status: natsStatus, _ what: String) throws {
    guard status == NATS_OK else { throw failure(status, what) }
  }

  private func describe(_ status: natsStatus, _ what: String, _ jsError: jsErrCode = jsErrCode(0)) -> String {
    var text = "nats: \(what): \(String(cString: natsStatus_GetText(status)))"
    if jsError.rawValue != 0 { text += " (JetStream error \(jsError.rawValue))" }
    if let last = nats_GetLastError(nil), last.pointee != 0 {
      let detail = String(cString: last)
      if !text.contains(detail) { text += ": \(detail)" }
    }
    return text
  }

  private func failure(_ status: natsStatus, _ what: String, _ jsError: jsErrCode = jsErrCode(0)) -> OutputFailure {
    if status == NATS_CONNECTION_CLOSED || status == NATS_NO_SERVER || status == NATS_CONNECTION_AUTH_FAILED {
      disconnect()
    }
    return .retryable(describe(status, what, jsError))
  }
}
