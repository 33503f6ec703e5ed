/// The `Events` parameter: which hook families are journaled. Applied at the hook
/// as one load of a flag word, so a filtered event consumes no sequence number.
public struct EventSelection: OptionSet, Sendable, Hashable {
  public let rawValue: UInt32
  @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

  @inlinable public static var deals: EventSelection { EventSelection(rawValue: 1 << 0) }
  @inlinable public static var orders: EventSelection { EventSelection(rawValue: 1 << 1) }
  @inlinable public static var positions: EventSelection { EventSelection(rawValue: 1 << 2) }
  @inlinable public static var trades: EventSelection { EventSelection(rawValue: 1 << 3) }
  @inlinable public static var users: EventSelection { EventSelection(rawValue: 1 << 4) }
  /// Gateway model: `on_dealer_lock` and `on_dealer_answer`.
  @inlinable public static var requests: EventSelection { EventSelection(rawValue: 1 << 5) }
  /// Gateway model: `on_execution` and `on_execution_ack`.
  @inlinable public static var executions: EventSelection { EventSelection(rawValue: 1 << 6) }
  /// The default: every family (a server's hooks never fire the gateway's, and back).
  public static var all: EventSelection { EventSelection(rawValue: 0b111_1111) }

  /// The parameter's names, in the spec's order.
  public static let names: [(String, EventSelection)] = [
    ("deals", .deals), ("orders", .orders), ("positions", .positions), ("trades", .trades), ("users", .users),
    ("requests", .requests), ("executions", .executions),
  ]

  /// Parses a comma list of `deals,orders,positions,trades,users,requests,executions` (case-insensitive,
  /// spaces ignored). Returns the unknown names, if any, instead.
  public static func parse(_ text: String) -> Result<EventSelection, EventSelectionError> {
    var selection: EventSelection = []
    var unknown: [String] = []
    for part in text.split(separator: ",") {
      let name = part.trimmedASCIIWhitespace.lowercased()
      if name.isEmpty { continue }
      if let match = names.first(where: { $0.0 == name }) {
        selection.insert(match.1)
      } else {
        unknown.append(name)
      }
    }
    if !unknown.isEmpty { return .failure(.unknownNames(unknown)) }
    if selection.isEmpty { return .failure(.empty) }
    return .success(selection)
  }

  /// The canonical parameter text (`deals,orders,...`).
  public var parameterText: String {
    Self.names.filter { contains($0.1) }.map(\.0).joined(separator: ",")
  }
}

/// Why an `Events` value was refused.
public enum EventSelectionError: Error, Equatable, Sendable {
  case empty
  case unknownNames([String])
}

extension StringProtocol {
  /// The text without leading and trailing spaces and tabs.
  var trimmedASCIIWhitespace: String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let first = firstIndex(where: { !isSpace($0) }),
      let last = lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(self[first...last])
  }
}
