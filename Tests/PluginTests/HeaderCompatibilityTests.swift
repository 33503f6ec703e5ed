import Testing

@Suite("Header compatibility")
struct HeaderCompatibilityTests {
  @Test func specificationNameCheckCompilesAgainstOurHeader() throws {
    let result = try run("/usr/bin/env", [
      "cc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
      "-I", Artifacts.header, Artifacts.testsFolder + "/abi_names_check.c",
    ])
    #expect(result.status == 0, "\(result.stderr)")
  }

  /// The gateway addendum's names (shared/spec/gateway_names_check.c, copied verbatim).
  @Test func gatewayNameCheckCompilesAgainstOurHeader() throws {
    let result = try run("/usr/bin/env", [
      "cc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
      "-I", Artifacts.header, Artifacts.testsFolder + "/gateway_names_check.c",
    ])
    #expect(result.status == 0, "\(result.stderr)")
  }

  /// The second round's host writes (shared/spec/commands_names_check.c, copied verbatim):
  /// `user_create` and `balance_change` appended after `trades_enum`, `TS_ERR_NO_MONEY`.
  @Test func commandsNameCheckCompilesAgainstOurHeader() throws {
    let result = try run("/usr/bin/env", [
      "cc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
      "-I", Artifacts.header, Artifacts.testsFolder + "/commands_names_check.c",
    ])
    #expect(result.status == 0, "\(result.stderr)")
  }
}
