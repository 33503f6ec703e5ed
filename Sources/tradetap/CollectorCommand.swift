import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TradeTapCollector
import TradeTapEvents
import TradeTapLedger

/// `tradetap collector`: flags exactly as shared/spec/cli.md.
struct CollectorCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "collector",
    abstract: "Receives trade-server events over the framed protocol and keeps the exact ledger."
  )

  @Option(help: "Framed-protocol listener for plugins (HOST:PORT; port 0 picks a free port).")
  var listen = "127.0.0.1:7400"

  @Option(help: "CRM HTTP API and /metrics (HOST:PORT; port 0 picks a free port).")
  var http = "127.0.0.1:7480"

  @Option(help: "sqlite:PATH or postgres://user:pass@host:port/db.")
  var database = "sqlite:./tradetap.sqlite"

  @Option(help: "File with one '<server_id> <secret>' per line; must not be readable by group or others.")
  var secrets: String

  @Option(name: .customLong("tls-cert"), help: "The collector's certificate (PEM).")
  var tlsCert: String?

  @Option(name: .customLong("tls-key"), help: "The collector's private key (PEM).")
  var tlsKey: String?

  @Flag(name: .customLong("no-tls"), help: "Plaintext, for loopback development only (refused on any other --listen address).")
  var noTLS = false

  @Flag(name: .customLong("allow-insecure-no-tls"), help: "Let --no-tls listen on an address that is not loopback (a network you trust).")
  var allowInsecureNoTLS = false

  @Option(name: .customLong("database-password-file"), help: "File holding the PostgreSQL password, so the URL need not carry it; must not be readable by group or others. Without it and without one in the URL: PGPASSWORD.")
  var databasePasswordFile: String?

  @Option(name: .customLong("http-max-connections"), help: "Most open HTTP connections, change streams included (default 1024); at most half of the open-file limit less 64, so the plugin port keeps room.")
  var httpMaxConnections: Int?

  @Option(name: .customLong("http-request-timeout"), help: "An HTTP request must arrive whole within this long of the connection or of its first byte.")
  var httpRequestTimeout = "10s"

  @Option(name: .customLong("http-idle-timeout"), help: "An HTTP connection with no request in progress is closed after this long (change streams are never idle).")
  var httpIdleTimeout = "60s"

  @Option(name: .customLong("api-token-file"), help: "File holding the bearer token the HTTP API requires.")
  var apiTokenFile: String

  @Option(name: .customLong("api-write-token-file"), help: "File holding the bearer token the write API (CRM commands: accounts, balance operations) requires; it reads too. Without it, writes are refused (403 writes_disabled).")
  var apiWriteTokenFile: String?

  @Option(name: .customLong("max-operation-amount"), help: "The largest amount one balance operation may move (an exact decimal); larger ones are refused with 422.")
  var maxOperationAmount = "1000000"

  @Option(name: .customLong("reconcile-every"), help: "Reconciliation sweep interval (500ms, 30s, 5m); 0 turns it off.")
  var reconcileEvery = "5m"

  @Option(name: .customLong("gateway-match-every"), help: "Gateway cross-check interval: every gateway fill against the server's deals (500ms, 10s, 1m); 0 turns it off.")
  var gatewayMatchEvery = "10s"

  @Option(name: .customLong("gateway-match-grace"), help: "Fills and deals received less than this ago are not yet compared by the gateway cross-check.")
  var gatewayMatchGrace = "5s"

  @Option(name: .customLong("max-sequence-jump"), help: "Furthest a batch may start past the durable point: further is refused, a smaller jump is recorded as a gap.")
  var maxSequenceJump: UInt64 = 1 << 32

  @Option(name: .customLong("reconcile-max-deletions"), help: "A sweep that would delete or zero more ledger rows than this is held until POST /v1/reconciliation/sweeps/{id}/apply: a row count (100), a share of the rows compared (1%), or both, the larger (1%,100).")
  var reconcileMaxDeletions = "1%,100"

  @Option(name: .customLong("snapshot-max-records"), help: "Most records one snapshot answer may hold; past it the sweep is abandoned.")
  var snapshotMaxRecords = 2_000_000

  @Option(name: .customLong("snapshot-max-bytes"), help: "Most bytes one snapshot answer may hold in memory (1073741824, 512M, 1G); past it the sweep is abandoned.")
  var snapshotMaxBytes = "1G"

  @Option(name: .customLong("heartbeat"), help: "Heartbeat interval; a peer silent for three intervals is dropped.")
  var heartbeat = "5s"

  @Option(name: .customLong("max-handshakes"), help: "Most connections in the handshake (not yet authenticated) at once; more are refused as server busy.")
  var maxHandshakes = 1024

  @Option(name: .customLong("handshake-timeout"), help: "Bound on connect to authenticated (e.g. 5s); default three heartbeat intervals.")
  var handshakeTimeout: String?

  @Option(help: "SQLite durability: full (survives power loss) or normal (survives a process crash).")
  var durability = "full"

  @Option(name: .customLong("webhook"), help: "Push every committed change to this URL as signed JSON batches (repeatable; one cursor each; docs/outputs.md).")
  var webhooks: [String] = []

  @Option(name: .customLong("webhook-secret-file"), help: "File holding the key webhook requests are signed with (HMAC-SHA256); required with --webhook.")
  var webhookSecretFile: String?

  @Option(name: .customLong("webhook-batch"), help: "Most changes per webhook request.")
  var webhookBatch = 100

  @Option(name: .customLong("webhook-timeout"), help: "How long a webhook receiver may take to answer before the batch is retried (e.g. 10s).")
  var webhookTimeout = "10s"

  @Option(name: .customLong("nats"), help: "Publish every committed change to NATS JetStream: nats://HOST:PORT[,nats://...] (repeatable; docs/outputs.md).")
  var nats: [String] = []

  @Option(name: .customLong("nats-stream"), help: "JetStream stream the changes go to; created when absent, never changed.")
  var natsStream = "TRADETAP"

  @Option(name: .customLong("nats-subject-prefix"), help: "Subjects are PREFIX.<server_id>.<kind>; the stream holds PREFIX.>.")
  var natsSubjectPrefix = "tradetap"

  @Option(name: .customLong("nats-replicas"), help: "Replicas of the stream when it is created (1-5).")
  var natsReplicas = 1

  @Option(name: .customLong("nats-creds"), help: "NATS credentials file (JWT and NKey seed); must be private (chmod 600).")
  var natsCreds: String?

  @Option(name: .customLong("nats-ca-file"), help: "CA certificates (PEM) the NATS servers' TLS certificates must chain to; turns TLS on.")
  var natsCAFile: String?

  @Option(name: .customLong("nats-batch"), help: "Most changes per NATS batch (the cursor moves once all are acknowledged).")
  var natsBatch = 256

  @Option(name: .customLong("nats-ack-timeout"), help: "How long the stream may take to acknowledge a batch before it is retried (e.g. 5s).")
  var natsAckTimeout = "5s"

  @Option(name: .customLong("fix-listen"), help: "HOST:PORT of the FIX 4.4 drop copy acceptor (docs/fix.md); needs --fix-sessions.")
  var fixListen: String?

  @Option(name: .customLong("fix-sessions"), help: "File of FIX sessions, one a line: '<SenderCompID> <TargetCompID> [report=8] [password-file=PATH]' (private, like the other secrets).")
  var fixSessions: String?

  @Option(name: .customLong("fix-tls-cert"), help: "The FIX acceptor's certificate (PEM): FIX over TLS; needs --fix-tls-key.")
  var fixTLSCert: String?

  @Option(name: .customLong("fix-tls-key"), help: "The FIX acceptor's private key (PEM, private to its owner).")
  var fixTLSKey: String?

  func run() async throws {
    do {
      try await serve()
    } catch let error as CollectorError {
      throw ValidationFailure(error.description)
    }
  }

  private func serve() async throws {
    // Everything the collector creates (the SQLite ledger, its -wal and -shm) is
    // private to its account: 0600 (SECURITY.md, "Ledger file").
    umask(0o077)
    var config = CollectorConfiguration()
    (config.listenHost, config.listenPort) = try Self.hostPort(listen)
    let (httpHost, httpPort) = try Self.hostPort(http)
    config.httpHost = httpHost
    config.httpPort = httpPort
    guard let location = LedgerLocation(database) else { throw CollectorError.unsupportedDatabase(database) }
    config.ledgerLocation = location
    if let databasePasswordFile {
      guard location.takesPassword else { throw ValidationFailure("--database-password-file is for a postgres:// database") }
      config.postgresPassword = try Self.databasePassword(path: databasePasswordFile)
    }
    config.secrets = try SecretsFile.load(path: secrets)
    config.maxSequenceJump = maxSequenceJump
    config.apiToken = try TokenFile.load(path: apiTokenFile)
    if let apiWriteTokenFile {
      config.apiWriteToken = try TokenFile.load(path: apiWriteTokenFile)
      guard config.apiWriteToken != config.apiToken else {
        throw ValidationFailure("--api-write-token-file must hold another token than --api-token-file")
      }
    }
    guard let maxAmount = ExactDecimal(maxOperationAmount), !maxAmount.isNegative, !maxAmount.isZero else {
      throw ValidationFailure("--max-operation-amount: expected a positive decimal (1000000, 25000.50)")
    }
    config.maxOperationAmount = maxAmount
    if !webhooks.isEmpty {
      for url in webhooks {
        guard let parts = URLComponents(string: url), ["http", "https"].contains(parts.scheme ?? ""), parts.host?.isEmpty == false
        else { throw ValidationFailure("--webhook \(url): expected an http:// or https:// URL") }
      }
      guard Set(webhooks).count == webhooks.count else { throw ValidationFailure("--webhook: a URL given twice") }
      guard let webhookSecretFile else { throw ValidationFailure("--webhook needs --webhook-secret-file") }
      config.webhooks = webhooks
      config.webhookSecret = try TokenFile.load(path: webhookSecretFile)
      guard (1...10_000).contains(webhookBatch) else { throw ValidationFailure("--webhook-batch must be between 1 and 10000") }
      config.webhookBatch = webhookBatch
      let timeout = try Self.nanoseconds(webhookTimeout, flag: "--webhook-timeout")
      guard timeout > 0 else { throw ValidationFailure("--webhook-timeout must be above 0") }
      config.webhookTimeout = .nanoseconds(timeout)
    }
    if !nats.isEmpty {
      let urls = nats.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        .filter { !$0.isEmpty }
      for url in urls {
        guard let parts = URLComponents(string: url), ["nats", "tls"].contains(parts.scheme ?? ""), parts.host?.isEmpty == false
        else { throw ValidationFailure("--nats \(url): expected nats://HOST:PORT or tls://HOST:PORT") }
      }
      guard !urls.isEmpty else { throw ValidationFailure("--nats: no URL") }
      let token = "^[A-Za-z0-9_-]+$"
      guard natsStream.range(of: token, options: .regularExpression) != nil else {
        throw ValidationFailure("--nats-stream: letters, digits, - and _ only")
      }
      guard natsSubjectPrefix.split(separator: ".", omittingEmptySubsequences: false)
        .allSatisfy({ String($0).range(of: token, options: .regularExpression) != nil })
      else { throw ValidationFailure("--nats-subject-prefix: dot-separated tokens of letters, digits, - and _") }
      guard (1...5).contains(natsReplicas) else { throw ValidationFailure("--nats-replicas must be between 1 and 5") }
      guard (1...10_000).contains(natsBatch) else { throw ValidationFailure("--nats-batch must be between 1 and 10000") }
      var settings = NATSOutputSettings(servers: urls)
      settings.stream = natsStream
      settings.subjectPrefix = natsSubjectPrefix
      settings.replicas = natsReplicas
      if let natsCreds {
        if let problem = PrivateFile.problem(path: natsCreds) { throw ValidationFailure("--nats-creds \(natsCreds): \(problem)") }
        settings.credentialsFile = natsCreds
      }
      if let natsCAFile {
        guard FileManager.default.isReadableFile(atPath: natsCAFile) else {
          throw ValidationFailure("--nats-ca-file \(natsCAFile): cannot be read")
        }
        settings.caFile = natsCAFile
      }
      let ackTimeout = try Self.nanoseconds(natsAckTimeout, flag: "--nats-ack-timeout")
      guard ackTimeout >= 1_000_000 else { throw ValidationFailure("--nats-ack-timeout must be at least 1ms") }
      settings.ackTimeoutMilliseconds = ackTimeout / 1_000_000
      config.nats = settings
      config.natsBatch = natsBatch
    }
    if fixListen != nil || fixSessions != nil {
      guard let fixListen, let fixSessions else { throw ValidationFailure("--fix-listen and --fix-sessions go together") }
      let (host, port) = try Self.hostPort(fixListen)
      do {
        config.fix = FIXSettings(host: host, port: port, sessions: try FIXSessionsFile.load(path: fixSessions))
        if fixTLSCert != nil || fixTLSKey != nil {
          guard let fixTLSCert, let fixTLSKey else { throw ValidationFailure("--fix-tls-cert and --fix-tls-key go together") }
          config.fix?.tls = .init(certificatePath: fixTLSCert, privateKeyPath: fixTLSKey)
        }
      } catch let problem as FIXSessionsFile.Problem {
        throw ValidationFailure(problem.description)
      }
    }
    config.heartbeatInterval = .nanoseconds(try Self.nanoseconds(heartbeat, flag: "--heartbeat"))
    guard maxHandshakes >= 1 else { throw ValidationFailure("--max-handshakes must be at least 1") }
    config.maxHandshakingConnections = maxHandshakes
    if let handshakeTimeout {
      let nanoseconds = try Self.nanoseconds(handshakeTimeout, flag: "--handshake-timeout")
      guard nanoseconds > 0 else { throw ValidationFailure("--handshake-timeout must be above 0") }
      config.handshakeTimeout = .nanoseconds(nanoseconds)
    }
    let reconcileNanoseconds = try Self.nanoseconds(reconcileEvery, flag: "--reconcile-every")
    config.reconcileInterval = reconcileNanoseconds > 0 ? .nanoseconds(reconcileNanoseconds) : nil
    let gatewayMatchNanoseconds = try Self.nanoseconds(gatewayMatchEvery, flag: "--gateway-match-every")
    config.gatewayMatchInterval = gatewayMatchNanoseconds > 0 ? .nanoseconds(gatewayMatchNanoseconds) : nil
    config.gatewayMatchGrace = .nanoseconds(try Self.nanoseconds(gatewayMatchGrace, flag: "--gateway-match-grace"))
    guard let deletionLimit = ReconciliationDeletionLimit(reconcileMaxDeletions) else {
      throw ValidationFailure("--reconcile-max-deletions: expected a count (100), a percentage (1%) or both (1%,100)")
    }
    config.reconcileMaxDeletions = deletionLimit
    guard snapshotMaxRecords >= 1 else { throw ValidationFailure("--snapshot-max-records must be at least 1") }
    config.snapshotMaxRecords = snapshotMaxRecords
    guard let maxBytes = Self.byteCount(snapshotMaxBytes), maxBytes >= 1 else {
      throw ValidationFailure("--snapshot-max-bytes: expected a byte count, optionally with K, M or G (binary)")
    }
    config.snapshotMaxBytes = maxBytes
    switch durability {
    case "full": config.ledger.durability = .full
    case "normal": config.ledger.durability = .normal
    default: throw ValidationFailure("--durability must be full or normal")
    }
    guard httpMaxConnections.map({ $0 >= 1 }) ?? true else { throw ValidationFailure("--http-max-connections must be at least 1") }
    config.httpMaxConnections = httpMaxConnections
    for (flag, text, keyPath) in [
      ("--http-request-timeout", httpRequestTimeout, \CollectorConfiguration.httpRequestReadTimeout),
      ("--http-idle-timeout", httpIdleTimeout, \CollectorConfiguration.httpIdleTimeout),
    ] {
      let nanoseconds = try Self.nanoseconds(text, flag: flag)
      guard nanoseconds > 0 else { throw ValidationFailure("\(flag) must be above 0") }
      config[keyPath: keyPath] = .nanoseconds(nanoseconds)
    }
    config.allowInsecurePlaintext = allowInsecureNoTLS
    if noTLS {
      guard tlsCert == nil, tlsKey == nil else { throw ValidationFailure("--no-tls cannot be combined with --tls-cert/--tls-key") }
    } else {
      guard let tlsCert, let tlsKey else {
        throw ValidationFailure("--tls-cert and --tls-key are required unless --no-tls")
      }
      config.tls = .init(certificatePath: tlsCert, privateKeyPath: tlsKey)
    }

    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = .info
      return handler
    }
    let logger = Logger(label: "tradetap.collector")
    var ledgerFile = stat()
    if stat(config.databasePath, &ledgerFile) == 0, ledgerFile.st_mode & 0o077 != 0 {
      logger.warning("ledger \(config.databasePath) has mode \(String(ledgerFile.st_mode & 0o777, radix: 8)): group or others can read account data; run chmod 600 on it (new ledgers are created 0600)")
    }
    let collector = try await Collector.start(configuration: config, logger: logger)
    print("listening protocol=\(collector.protocolEndpoint) http=\(collector.httpEndpoint ?? "off")")
    fflush(nil)  // the line must reach a pipe before serving
    let group = ServiceGroup(
      configuration: .init(services: [collector], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
  }

  /// The error a user sees: one line, non-zero exit.
  struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }

  /// `--database-password-file`: its first line, exactly (a password may hold spaces);
  /// the file must be private, like every file holding a secret (``PrivateFile``).
  static func databasePassword(path: String) throws -> String {
    if let problem = PrivateFile.problem(path: path) {
      throw ValidationFailure("database password file \(path): \(problem)")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ValidationFailure("database password file \(path): cannot be read")
    }
    var line = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
    if line.hasSuffix("\r") { line = line.dropLast() }
    guard !line.isEmpty else { throw ValidationFailure("database password file \(path): empty") }
    return String(line)
  }

  /// `1048576`, `512K`, `64M`, `1G` (binary multiples); nil for anything else.
  static func byteCount(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    guard let last = text.uppercased().last else { return nil }
    let (digits, unit) = units[last].map { (text.dropLast(), $0) } ?? (Substring(text), 1)
    guard let value = Int(digits), value >= 0 else { return nil }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
    return overflow ? nil : bytes
  }

  static func hostPort(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (0...65535).contains(port), colon != text.startIndex
    else { throw CollectorError.invalidAddress(text) }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
  }

  /// A duration flag's value (``FlagDuration``); a refusal is the user's one line.
  static func nanoseconds(_ text: String, flag: String) throws -> Int64 {
    do { return try FlagDuration(text, flag: flag).nanoseconds } catch { throw ValidationFailure("\(error)") }
  }
}
