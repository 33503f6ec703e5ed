import Foundation
import Testing

/// The shape of libTradeTapPlugin.so, proved with the binutils a packager would use.
@Suite("Shared library")
struct SharedLibraryTests {
  @Test func exportsExactlyTheSevenPluginAndGatewayFunctions() throws {
    let result = try run("/usr/bin/env", ["nm", "-D", "--defined-only", Artifacts.plugin])
    try #require(result.status == 0, "\(result.stderr)")
    // Upper-case types are global (resolvable) symbols; lower-case ones are local
    // entries some linkers keep in .dynsym for relocations, invisible to dlsym.
    let global = result.stdout.split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      guard fields.count == 3, let type = fields[1].first, type.isUppercase else { return nil }
      return String(fields[2])
    }
    #expect(global.sorted() == [
      "ts_gateway_about", "ts_gateway_cleanup", "ts_gateway_startup",
      "ts_plugin_about", "ts_plugin_cleanup", "ts_plugin_config_set", "ts_plugin_startup",
    ])
  }

  @Test func needsOnlyTheAllowedSystemLibraries() throws {
    let result = try run("/usr/bin/env", ["ldd", Artifacts.plugin])
    try #require(result.status == 0, "\(result.stderr)")
    let allowed = ["linux-vdso", "ld-linux", "libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "libssl.so", "libcrypto.so"]
    for line in result.stdout.split(separator: "\n") {
      let library = line.trimmingCharacters(in: .whitespaces)
      #expect(allowed.contains { library.hasPrefix($0) || library.contains("/" + $0) }, "unexpected dependency: \(library)")
    }
  }

  @Test func isAtMostSixteenMegabytes() throws {
    let size = try FileManager.default.attributesOfItem(atPath: Artifacts.plugin)[.size] as? Int ?? .max
    #expect(size <= 16 * 1_048_576, "\(size) bytes")
  }

  @Test func isMarkedNoDelete() throws {
    let result = try run("/usr/bin/env", ["readelf", "-d", Artifacts.plugin])
    #expect(result.stdout.contains("NODELETE"))
  }

  @Test func linksNoFoundation() throws {
    let needed = try run("/usr/bin/env", ["readelf", "-d", Artifacts.plugin]).stdout
    #expect(!needed.contains("Foundation"))
    let symbols = try run("/usr/bin/env", ["nm", Artifacts.plugin]).stdout
    #expect(!symbols.contains("10Foundation"), "a Foundation symbol is linked")
    // The static Swift runtime names Foundation's boxing class for dynamic casts;
    // that one string is the runtime's, not Foundation code.
    let strings = try run("/usr/bin/env", ["strings", Artifacts.plugin]).stdout
    let mentions = strings.split(separator: "\n").filter { $0.contains("Foundation") && $0 != "Foundation.__SwiftValue" }
    #expect(mentions.isEmpty, "\(mentions.prefix(5))")
  }
}
