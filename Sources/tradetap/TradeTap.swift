import ArgumentParser

@main
struct TradeTap: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tradetap",
    abstract: "Taps a trade server's deals and balance events into an exact ledger.",
    subcommands: [CollectorCommand.self, SimCommand.self, GatewayCommand.self, VerifyCommand.self, DemoCommand.self, BenchCommand.self]
  )
}
