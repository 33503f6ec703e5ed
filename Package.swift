// swift-tools-version: 6.1
// TradeTap: a MetaTrader-style trade-server plugin (C ABI), its wire protocol,
// the collector that keeps an exact ledger, and a simulated trade server.
import PackageDescription

/// Link flags that make `libTradeTapPlugin.so` a self-contained server plugin:
/// its own static Swift runtime, exactly the seven `ts_plugin_*` / `ts_gateway_*` dynamic symbols
/// (version script), and `-z nodelete` so a host's `dlclose` can never unmap code
/// a late thread-local destructor still points into.
let pluginLinkerFlags: [String] = [
  "-static-stdlib",
  "-Xlinker", "--version-script=\(Context.packageDirectory)/Plugin/TradeTapPlugin.exports",
  "-Xlinker", "-z", "-Xlinker", "nodelete",
]

let package = Package(
  name: "TradeTap",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "TradeTapPlugin", type: .dynamic, targets: ["TradeTapPlugin"]),
    .executable(name: "tradetap", targets: ["tradetap"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
  ],
  targets: [
    // MARK: C that Swift needs
    .target(name: "TradeServerAPI", path: "CInterop/TradeServerAPI"),
    .target(name: "CTradeTapShims", path: "CInterop/CTradeTapShims"),
    .systemLibrary(name: "COpenSSL", path: "CInterop/COpenSSL", providers: [.apt(["libssl-dev"])]),
    .target(name: "CTradeTapTLS", dependencies: ["COpenSSL"], path: "CInterop/CTradeTapTLS"),
    // libnats (the NATS C client) for the collector's JetStream output; the plugin never links it.
    .systemLibrary(name: "CNATS", path: "CInterop/CNATS", providers: [.apt(["libnats-dev"])]),

    // MARK: Shared formats (standard library only: the plugin and the collector both use them)
    .target(name: "TradeTapEvents", dependencies: ["TradeServerAPI"]),
    .target(name: "TradeTapWire", dependencies: ["TradeTapEvents"]),

    // MARK: The plugin (no Foundation, no NIO)
    .target(name: "TradeTapJournal", dependencies: ["CTradeTapShims"]),
    .target(
      name: "TradeTapPluginCore",
      dependencies: [
        "TradeServerAPI", "CTradeTapShims", "TradeTapEvents", "TradeTapWire", "TradeTapJournal",
        "COpenSSL", "CTradeTapTLS",
      ]
    ),
    .target(
      name: "TradeTapPlugin",
      dependencies: ["TradeServerAPI", "TradeTapPluginCore"],
      path: "Plugin/TradeTapPlugin",
      linkerSettings: [.unsafeFlags(pluginLinkerFlags)]
    ),

    // MARK: The collector
    // The ledger's rules, backend-neutral: no GRDB, no postgres-nio (docs/ledger.md).
    .target(name: "TradeTapLedgerCore", dependencies: ["TradeTapEvents"]),
    .target(
      name: "TradeTapLedger",
      dependencies: [
        "TradeTapLedgerCore", "TradeTapEvents", .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "GRDBSQLite", package: "GRDB.swift"),
      ]
    ),
    .target(
      name: "TradeTapLedgerPostgres",
      dependencies: [
        "TradeTapLedger", "TradeTapEvents", .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "Logging", package: "swift-log"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]
    ),
    .target(
      name: "TradeTapCollector",
      dependencies: [
        "TradeTapEvents", "TradeTapWire", "TradeTapLedger", "TradeTapLedgerPostgres",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        // Outputs (docs/outputs.md): the webhook client. Only the collector links it.
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        // Outputs: the NATS JetStream client (libnats). Only the collector links it.
        "CNATS",
      ]
    ),

    // MARK: The simulated trade server
    .target(name: "TradeTapSimulator", dependencies: ["TradeServerAPI", "CTradeTapShims"]),
    .target(
      name: "TradeTapVerify",
      dependencies: ["TradeTapLedger", .product(name: "GRDB", package: "GRDB.swift")]
    ),

    // MARK: The command line
    .executableTarget(
      name: "tradetap",
      dependencies: [
        // No GRDB and no postgres-nio: commands open the ledger through LedgerBackend.
        "TradeTapCollector", "TradeTapSimulator", "TradeTapVerify", "TradeTapLedger", "TradeTapJournal",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),

    // MARK: Tests
    .testTarget(name: "ABITests", dependencies: ["TradeServerAPI"]),
    .testTarget(name: "TradeTapSimulatorTests", dependencies: ["TradeTapSimulator"]),
    .testTarget(
      name: "TradeTapVerifyTests",
      dependencies: ["TradeTapVerify", "TradeTapLedger", "TradeTapSimulator", .product(name: "GRDB", package: "GRDB.swift")]
    ),
    .testTarget(name: "TradeTapJournalTests", dependencies: ["TradeTapJournal"]),
    .testTarget(
      name: "PluginTests",
      dependencies: ["TradeTapJournal", "TradeTapPluginCore", "TradeTapEvents", "TradeServerAPI"],
      exclude: ["abi_names_check.c", "gateway_names_check.c", "commands_names_check.c"]  // compiled by the tests with cc, not by SwiftPM
    ),
    .testTarget(name: "SenderTests", dependencies: ["TradeTapPluginCore", "TradeServerAPI", "TradeTapJournal", "TradeTapWire", "CTradeTapShims"]),
    .testTarget(name: "TradeTapEventsTests", dependencies: ["TradeTapEvents", "TradeServerAPI"]),
    .testTarget(name: "TradeTapLedgerCoreTests", dependencies: ["TradeTapLedgerCore", "TradeTapEvents"]),
    .testTarget(name: "TradeTapWireTests", dependencies: ["TradeTapWire", "TradeTapEvents"]),
    .testTarget(
      name: "TradeTapLedgerTests",
      dependencies: ["TradeTapLedger", "TradeTapEvents", .product(name: "GRDB", package: "GRDB.swift")]
    ),
    .testTarget(
      name: "TradeTapCollectorTests",
      dependencies: [
        "TradeTapCollector", "TradeTapLedger", "TradeTapLedgerPostgres", "TradeTapWire", "TradeTapEvents",
        .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOTestUtils", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .testTarget(name: "FaultTests", dependencies: ["TradeTapWire"]),
  ]
)
