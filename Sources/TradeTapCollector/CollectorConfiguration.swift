import NIOCore
import TradeTapEvents
import TradeTapLedger

/// Everything a collector needs, with a documented default for every field.
public struct CollectorConfiguration: Sendable {
  /// The collector's certificate and key, PEM files.
  public struct TLSFiles: Sendable {
    public var certificatePath: String
    public var privateKeyPath: String
    public init(certificatePath: String, privateKeyPath: String) {
      self.certificatePath = certificatePath
      self.privateKeyPath = privateKeyPath
    }
  }

  /// Framed-protocol listener. Default `127.0.0.1:7400`; port 0 picks a free port.
  public var listenHost: String = "127.0.0.1"
  public var listenPort: Int = 7400
  /// HTTP listener (`/healthz`, `/metrics`). Default `127.0.0.1:7480`; `nil` port: no HTTP.
  public var httpHost: String = "127.0.0.1"
  public var httpPort: Int? = 7480
  /// The SQLite ledger file. Default `./tradetap.sqlite`.
  public var databasePath: String = "./tradetap.sqlite"
  /// `postgres://user:pass@host:port/db`: the ledger on PostgreSQL instead of
  /// ``databasePath`` (docs/ledger.md, "PostgreSQL"). Default `nil` (SQLite).
  public var postgresURL: String? = nil
  /// The PostgreSQL password when the URL carries none (`--database-password-file`);
  /// without either, `PGPASSWORD`. Default `nil`.
  public var postgresPassword: String? = nil
  /// How the ledger is opened (durability). Default: `synchronous = FULL`.
  public var ledger = LedgerConfiguration()
  /// Shared secret of each trade server (`--secrets`), at least
  /// ``minimumSecretLength`` bytes each (else ``Collector/start(configuration:logger:)``
  /// refuses to start). Default: none (every handshake refused).
  public var secrets: [UInt32: [UInt8]] = [:]
  /// TLS 1.3 certificate and key; `nil` means plaintext (`--no-tls`). Default `nil`.
  public var tls: TLSFiles? = nil
  /// Plaintext on a listen address that is not loopback (`--allow-insecure-no-tls`).
  /// Default `false`: ``Collector/start(configuration:logger:)`` refuses it.
  public var allowInsecurePlaintext: Bool = false
  /// Most open HTTP connections, change streams included (`--http-max-connections`);
  /// nil: 1,024. Either way at most half of RLIMIT_NOFILE less ``FileLimit/reserve``,
  /// so the plugin port keeps the other half (docs/collector.md, "Open files").
  public var httpMaxConnections: Int? = nil
  /// An HTTP request must arrive whole within this long of the accept or of its first
  /// byte (`--http-request-timeout`). Default 10 s.
  public var httpRequestReadTimeout: TimeAmount = .seconds(10)
  /// An HTTP connection with no request in progress is closed after this long
  /// (`--http-idle-timeout`). Default 60 s. Change streams are never idle.
  public var httpIdleTimeout: TimeAmount = .seconds(60)
  /// Bearer token the HTTP API requires (`/healthz` excepted). Default: empty, which
  /// refuses every authenticated request.
  public var apiToken: [UInt8] = []
  /// Bearer token the write API requires (`--api-write-token-file`): CRM commands
  /// (docs/api.md, "Write API"). It reads too. Default: empty, which disables writes
  /// (`403 writes_disabled`).
  public var apiWriteToken: [UInt8] = []
  /// The largest amount one balance operation may move (`--max-operation-amount`);
  /// a larger one is refused with `422 amount_too_large`. Default 1,000,000.
  public var maxOperationAmount: ExactDecimal = Self.defaultMaxOperationAmount
  public static let defaultMaxOperationAmount = ExactDecimal(mantissa: 1_000_000, scale: 0)!
  /// Heartbeat interval; a peer silent for three intervals is dropped. Default 5 s.
  public var heartbeatInterval: TimeAmount = .seconds(5)
  /// Signed webhooks (docs/outputs.md): one output per URL, each with its own cursor.
  public var webhooks: [String] = []
  /// The HMAC key every webhook request is signed with (`--webhook-secret-file`).
  public var webhookSecret: [UInt8] = []
  /// Changes per webhook request (`--webhook-batch`).
  public var webhookBatch = 100
  /// How long a webhook receiver may take to answer before the batch is retried.
  public var webhookTimeout: TimeAmount = .seconds(10)
  /// The NATS JetStream output (docs/outputs.md, `--nats ...`); nil: none.
  public var nats: NATSOutputSettings?
  /// Changes per NATS batch: the cursor moves once all of them are acknowledged.
  public var natsBatch = 256
  /// The FIX 4.4 drop copy acceptor (docs/fix.md, `--fix-listen`, `--fix-sessions`); nil: none.
  public var fix: FIXSettings?
  /// Most connections in the handshake (connected, not yet authenticated) at once;
  /// one more is answered `server busy` and closed, so a flood of idle or dripping
  /// sockets cannot exhaust the collector. Authenticated plugins do not count.
  /// Default 1,024 (`--max-handshakes`). While a flood fills it, a plugin that
  /// connects anew waits (server busy, backoff) until a slot frees: at most the
  /// handshake timeout.
  public var maxHandshakingConnections: Int = 1_024
  /// Bound on connect → authenticated (`--handshake-timeout`); nil: three heartbeat
  /// intervals (the default).
  public var handshakeTimeout: TimeAmount? = nil
  /// Most events one ledger transaction takes (group commit). Default 65,536.
  public var maxEventsPerCommit: Int = 65_536
  /// Decoded events a connection may have waiting for commit before the collector
  /// stops reading from it (back-pressure). Default 262,144: decoding runs ahead of
  /// SQLite by a burst of that size. Memory bound: docs/collector.md, "Back-pressure".
  public var maxPendingEventsPerConnection: Int = 262_144
  /// Submissions (batches, gap notices) a connection may have waiting for commit
  /// before the collector stops reading from it. Default 1,024; bounds the batches of
  /// a peer sending many tiny ones.
  public var maxPendingBatchesPerConnection: Int = 1_024
  /// Furthest a batch may start past a connection's durable point D (or a gap notice
  /// reach past it): a batch whose first new sequence is beyond D + 1 + this is
  /// refused (`protocol violation`, nothing committed); a smaller jump is committed
  /// and the skipped sequences are recorded as a `not received` gap, never a silent
  /// move of D. Sequences above 2^63 − 1 (the ledger's range) are always refused.
  /// Default 2^32 (`--max-sequence-jump`): far beyond any journal a plugin could
  /// have lost, far below the ledger's range. docs/collector.md, "Sequence claims".
  public var maxSequenceJump: UInt64 = 1 << 32
  /// Keep each event's wire encoding in `events.body` (audit), besides its summary.
  /// Default `false`: the summary only, about half the write volume.
  public var storeEncodedEvents: Bool = false
  /// Reconciliation sweep interval (`--reconcile-every`); nil (the default here,
  /// `5m` on the command line) turns reconciliation off. docs/reconciliation.md.
  public var reconcileInterval: Duration? = nil
  /// A sweep that would delete or zero more ledger rows than this is held, not
  /// applied (`--reconcile-max-deletions`, docs/reconciliation.md "Held sweeps").
  /// Default `1%,100`: 1 % of the ledger rows compared or 100 rows, the larger; nil never holds.
  public var reconcileMaxDeletions: ReconciliationDeletionLimit? = .default
  /// Most records one snapshot answer may hold before the sweep is abandoned
  /// (`--snapshot-max-records`). Default 2,000,000.
  public var snapshotMaxRecords: Int = 2_000_000
  /// Most bytes (records in memory, estimated) one snapshot answer may hold before the
  /// sweep is abandoned (`--snapshot-max-bytes`). Default 1 GiB.
  public var snapshotMaxBytes: Int = 1 << 30
  /// Gateway cross-check interval (`--gateway-match-every`); nil (the default here,
  /// `10s` on the command line) turns it off. docs/reconciliation.md, "Gateway against server".
  public var gatewayMatchInterval: Duration? = nil
  /// Fills and deals the ledger received less than this ago are not yet compared
  /// (`--gateway-match-grace`). Default 5 s.
  public var gatewayMatchGrace: Duration = .seconds(5)

  /// Shortest secret a collector starts with: 16 bytes (128 bits of key for the HMAC).
  public static let minimumSecretLength = 16

  public init() {}
}
