import Foundation

/// One line of a scenario file (JSON Lines; see docs/scenarios.md). Tickets the
/// server assigns can be named with `"ref"` and referred to later by that name.
public struct ScenarioStep: Sendable {
  public enum Operation: Sendable {
    case createAccount(login: UInt64, group: String, margin: MarginMode, leverage: UInt32, stopOutLevel: Double)
    case updateAccount(login: UInt64, name: String?, group: String?, leverage: UInt32?)
    case deleteAccount(login: UInt64)
    case correctDeal(target: String, comment: String)
    case balance(login: UInt64, action: DealAction, amount: String, comment: String)
    case market(login: UInt64, symbol: String, buy: Bool, volume: String, fills: [(volume: String, price: String)]?)
    case close(target: String, volume: String?, fills: [(volume: String, price: String)]?, price: String?)
    case closeBy(target: String, by: String)
    case pending(login: UInt64, symbol: String, type: OrderType, volume: String, price: String)
    case activate(target: String)
    case cancel(target: String)
    case modify(target: String, sl: String, tp: String)
    case quote(symbol: String, bid: String)
    case rollover(login: UInt64?)
    case stopOut(login: UInt64)
  }

  public var line: Int
  public var operation: Operation
  /// Name for the ticket this step creates (order / position / MT4 trade).
  public var ref: String?
  /// Name for the remainder's new ticket after an MT4 partial close.
  public var restRef: String?
  /// Apply without calling the hooks (a change the tap never hears of).
  public var miss: Bool
  /// The server must refuse this request (`"expect":"rejected"`); nothing changes.
  public var expectsRejection: Bool
}

/// A scenario line that cannot be read.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
  public var line: Int
  public var reason: String
  public var description: String { "scenario line \(line): \(reason)" }
}

public enum ScenarioParser {
  /// Parses JSON Lines text; blank lines and lines starting with `#` or `//` are skipped.
  public static func parse(_ text: String) throws -> [ScenarioStep] {
    var steps: [ScenarioStep] = []
    for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("//") { continue }
      steps.append(try parseLine(line, number: offset + 1))
    }
    return steps
  }

  static func parseLine(_ line: String, number: Int) throws -> ScenarioStep {
    func fail(_ reason: String) -> ScenarioError { ScenarioError(line: number, reason: reason) }
    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
      throw fail("not a JSON object")
    }
    func string(_ key: String) -> String? {
      switch object[key] {
      case let s as String: s
      case let n as NSNumber: n.stringValue
      default: nil
      }
    }
    func need(_ key: String) throws -> String {
      guard let value = string(key) else { throw fail("missing \"\(key)\"") }
      return value
    }
    func login() throws -> UInt64 {
      guard let value = UInt64(try need("login")) else { throw fail("\"login\" is not a number") }
      return value
    }
    func side() throws -> Bool {
      switch try need("side") {
      case "buy": return true
      case "sell": return false
      default: throw fail("\"side\" must be buy or sell")
      }
    }
    func fills() throws -> [(volume: String, price: String)]? {
      guard let list = object["fills"] else { return nil }
      guard let items = list as? [[String: Any]] else { throw fail("\"fills\" must be a list of {volume, price}") }
      return try items.map { item in
        guard let v = item["volume"].map({ "\($0)" }), let p = item["price"].map({ "\($0)" }) else {
          throw fail("each fill needs volume and price")
        }
        return (v, p)
      }
    }
    let operation: ScenarioStep.Operation
    switch try need("op") {
    case "create_account":
      let margin: MarginMode
      switch string("margin") ?? "hedging" {
      case "netting": margin = .netting
      case "hedging": margin = .hedging
      default: throw fail("\"margin\" must be netting or hedging")
      }
      operation = .createAccount(
        login: try login(), group: string("group") ?? "real\\\(margin.name)", margin: margin,
        leverage: UInt32(string("leverage") ?? "100") ?? 100, stopOutLevel: Double(string("stop_out") ?? "50") ?? 50)
    case "update_account":
      operation = .updateAccount(login: try login(), name: string("name"), group: string("group"),
                                 leverage: string("leverage").flatMap { UInt32($0) })
    case "delete_account":
      operation = .deleteAccount(login: try login())
    case "correct_deal":
      operation = .correctDeal(target: try need("deal"), comment: try need("comment"))
    case "balance":
      let actionName = string("action") ?? "balance"
      guard let action = DealAction.named(actionName) else { throw fail("unknown balance action \"\(actionName)\"") }
      operation = .balance(login: try login(), action: action, amount: try need("amount"), comment: string("comment") ?? "")
    case "market":
      operation = .market(login: try login(), symbol: try need("symbol"), buy: try side(), volume: try need("volume"),
                          fills: try fills())
    case "close":
      operation = .close(target: try need("position"), volume: string("volume"), fills: try fills(), price: string("price"))
    case "close_by":
      operation = .closeBy(target: try need("position"), by: try need("by"))
    case "pending":
      guard let type = OrderType.named(try need("type")) else { throw fail("\"type\" must be buy_limit, sell_limit, buy_stop or sell_stop") }
      operation = .pending(login: try login(), symbol: try need("symbol"), type: type, volume: try need("volume"),
                           price: try need("price"))
    case "activate": operation = .activate(target: try need("order"))
    case "cancel": operation = .cancel(target: try need("order"))
    case "modify": operation = .modify(target: try need("position"), sl: string("sl") ?? "0", tp: string("tp") ?? "0")
    case "quote": operation = .quote(symbol: try need("symbol"), bid: try need("bid"))
    case "rollover": operation = .rollover(login: string("login").flatMap { UInt64($0) })
    case "stop_out": operation = .stopOut(login: try login())
    case let other: throw fail("unknown op \"\(other)\"")
    }
    return ScenarioStep(line: number, operation: operation, ref: string("ref"), restRef: string("rest_ref"),
                        miss: (object["miss"] as? Bool) ?? false, expectsRejection: string("expect") == "rejected")
  }
}

extension DealAction {
  /// Scenario names: `balance`, `credit`, `charge`, `correction`, `bonus`, `commission`,
  /// `commission_daily`, `commission_monthly`, `agent_daily`, `agent_monthly`,
  /// `interest_rate`, `dividend`, `dividend_franked`, `tax`, `agent`, `so_compensation`,
  /// `so_compensation_credit`.
  public static func named(_ name: String) -> DealAction? {
    let names: [String: DealAction] = [
      "balance": .balance, "credit": .credit, "charge": .charge, "correction": .correction, "bonus": .bonus,
      "commission": .commission, "commission_daily": .commissionDaily, "commission_monthly": .commissionMonthly,
      "agent_daily": .agentDaily, "agent_monthly": .agentMonthly, "interest_rate": .interestRate,
      "dividend": .dividend, "dividend_franked": .dividendFranked, "tax": .tax, "agent": .agent,
      "so_compensation": .soCompensation, "so_compensation_credit": .soCompensationCredit,
    ]
    return names[name]
  }
}

extension OrderType {
  static func named(_ name: String) -> OrderType? {
    ["buy_limit": .buyLimit, "sell_limit": .sellLimit, "buy_stop": .buyStop, "sell_stop": .sellStop][name]
  }
}
