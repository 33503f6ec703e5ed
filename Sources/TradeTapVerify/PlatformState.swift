import Foundation

/// A trade server's state as `tradetap sim --state-out` writes it (format
/// `tradetap-sim-state/1`, docs/simulator.md). Money and prices are exact
/// decimal strings; they are compared as decimals, never as binary floats.
public struct PlatformState: Decodable, Sendable {
  public struct Account: Decodable, Sendable {
    public var login: Int64
    public var group: String
    public var balance: String
    public var credit: String
    public var currency_digits: Int
  }

  public struct Deal: Decodable, Sendable {
    public var deal: Int64
    public var login: Int64
    public var order: Int64
    public var position_id: Int64
    public var action: Int
    public var entry: Int
    public var reason: Int
    public var symbol: String
    public var price: String
    public var volume_ext: Int64
    public var profit: String
    public var commission: String
    public var storage: String
    public var fee: String
    public var time_msc: Int64
    public var comment: String?
  }

  public struct Position: Decodable, Sendable {
    public var position: Int64
    public var login: Int64
    public var symbol: String
    public var action: Int
    public var volume_ext: Int64
    public var price_open: String
    public var storage: String
  }

  /// An MT4 trade record: open trade or pending order (`trades`), or closed trade,
  /// deleted pending order, balance or credit operation (`history`).
  public struct Trade: Decodable, Sendable {
    public var ticket: Int64
    public var login: Int64
    public var symbol: String
    public var cmd: Int
    public var volume: Int64
    public var open_price: String
    public var close_price: String?
    public var sl: String?
    public var tp: String?
    public var commission: String
    public var storage: String
    public var profit: String
    public var comment: String
  }

  public var format: String
  public var platform: String
  public var server_id: Int64
  public var accounts: [Account]
  public var deals: [Deal]?
  public var positions: [Position]?
  public var trades: [Trade]?
  public var history: [Trade]?

  /// Reads a state file.
  /// - Throws: `VerifyError.unreadableState` with the reason.
  public static func load(path: String) throws -> PlatformState {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw VerifyError.unreadableState("cannot read \(path)")
    }
    do {
      let state = try JSONDecoder().decode(PlatformState.self, from: data)
      guard state.format.hasPrefix("tradetap-sim-state/") else {
        throw VerifyError.unreadableState("\(path) is not a tradetap state file (format \(state.format))")
      }
      return state
    } catch let error as VerifyError {
      throw error
    } catch {
      throw VerifyError.unreadableState("\(path) is not a valid state file: \(error)")
    }
  }
}

/// Why verify could not compare at all (as opposed to a divergence).
public enum VerifyError: Error, CustomStringConvertible, Equatable {
  case unreadableState(String)
  case unsupportedDatabase(String)
  case unreadableLedger(String)

  public var description: String {
    switch self {
    case .unreadableState(let reason): "state: \(reason)"
    case .unsupportedDatabase(let reason): "database: \(reason)"
    case .unreadableLedger(let reason): "ledger: \(reason)"
    }
  }
}
