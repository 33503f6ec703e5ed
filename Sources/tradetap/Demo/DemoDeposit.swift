import Foundation
import TradeTapCollector
import TradeTapLedger

/// The demo's CRM moving money in (docs/commands.md): one deposit through the write
/// API, followed from the `202` to the platform's deal and the ledger's row.
struct DemoDeposit {
  let desk: CollectorProbe
  let serverID: UInt32
  let ledgerPath: String

  /// Deposits 100.00 to the ledger's first account and waits (≤ 60 s) until the
  /// command is done and its deal is a ledger row. - Returns: the line that says so.
  func run() async throws -> String {
    let store = try await LedgerBackend.open(.sqlite(path: ledgerPath), access: .read)
    defer { Task { await store.close() } }
    guard let login = try await store.verificationRows(.accounts, serverId: Int64(serverID)).first?.integer("login") else {
      throw DemoFailure("the ledger holds no account of server \(serverID) to deposit to")
    }
    let path = "/v1/servers/\(serverID)/balance-operations"
    let body = #"{"login":\#(login),"type":"deposit","amount":"100.00","comment":"demo deposit"}"#
    let headers = ["Idempotency-Key": "demo-deposit-\(serverID)", "Content-Type": "application/json"]
    guard let (status, accepted) = desk.json(method: "POST", path: path, body: body, headers: headers),
      status == 202 || status == 200, let id = (accepted["command_id"] as? NSNumber)?.int64Value
    else { throw DemoFailure("the write API refused the demo's deposit; see the collector log") }
    say("demo: CRM deposit: POST \(path) (Idempotency-Key demo-deposit-\(serverID)) → \(status), command \(id)")

    let deadline = ContinuousClock.now + .seconds(60)
    var command: [String: Any] = [:]
    while ContinuousClock.now < deadline {
      command = desk.json(method: "GET", path: "/v1/commands/\(id)")?.object ?? [:]
      if command["status"] as? String == "done" || command["status"] as? String == "rejected" { break }
      try await Task.sleep(for: .milliseconds(100))
    }
    guard command["status"] as? String == "done", let deal = (command["deal"] as? NSNumber)?.int64Value else {
      throw DemoFailure("the demo's deposit (command \(id)) is \(command["status"] ?? "unknown") after 60 s: \(command)")
    }
    // The deal comes back through the tap like any other deal.
    let set: VerificationSet = try store.platform(serverId: serverID) == 4 ? .historyTrades : .deals
    let key = set == .deals ? "deal" : "ticket"
    while ContinuousClock.now < deadline {
      let rows = try await store.verificationRows(set, serverId: Int64(serverID))
      if let row = rows.first(where: { $0.integer(key) == deal }) {
        return "demo: command \(id) done: deal \(deal) of 100.00 to login \(login) on the platform; in the ledger as "
          + "'\(row.text("comment") ?? "")', the deal the plugin tapped (docs/commands.md)"
      }
      try await Task.sleep(for: .milliseconds(100))
    }
    throw DemoFailure("the demo's deposit made deal \(deal), which is not in the ledger after 60 s")
  }
}
