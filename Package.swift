// swift-tools-version: 6.1
// TradeTap: a MetaTrader-style trade-server plugin (C ABI), its wire protocol,
// the collector that keeps an exact ledger, and a simulated trade server.
import PackageDescription

/// Link flags that make `libTradeTapPlugin.so` a self-contained server plugin:
/// its own static Swift runtime, exactly the four `ts_plugin_*` dynamic symbols
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
  ],
  dependencies: [],
  targets: [
    // C that Swift needs.
    .target(name: "TradeServerAPI", path: "CInterop/TradeServerAPI"),
    .target(name: "CTradeTapShims", path: "CInterop/CTradeTapShims"),

    // The plugin: a C-ABI shared library with no Foundation and no NIO.
    .target(
      name: "TradeTapPlugin",
      dependencies: ["TradeServerAPI", "CTradeTapShims"],
      path: "Plugin/TradeTapPlugin",
      linkerSettings: [.unsafeFlags(pluginLinkerFlags)]
    ),
    .testTarget(name: "ABITests", dependencies: ["TradeServerAPI"]),
  ]
)
