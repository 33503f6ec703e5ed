/// Group filtering for records that carry no group.
///
/// MT5 deals, orders and positions name only a login; users (and MT4 trades, through
/// their `ts_user_info`) name the group. The sender keeps this directory from the
/// user records it reads (and from `users_enum` / `user_get`) and asks it, off the
/// hook path, whether a login's records pass the `Groups` mask.
///
/// Not thread-safe: one owner (the sender thread).
public struct LoginGroupDirectory: Sendable {
  /// Whether a login's records pass the mask.
  public enum Admission: Sendable, Equatable {
    case admitted
    case excluded
    /// The login's group is not known yet: look it up (`user_get`) and ``record(login:group:)`` it.
    case unknownLogin
  }

  public private(set) var mask: GroupMask
  private var groupOfLogin: [UInt64: String] = [:]
  private var decisionForGroup: [String: Bool] = [:]

  public init(mask: GroupMask) {
    self.mask = mask
  }

  /// Number of logins whose group is known.
  public var count: Int { groupOfLogin.count }

  /// Remembers (or updates) the group of a login, as a user record states it.
  public mutating func record(login: UInt64, group: String) {
    groupOfLogin[login] = group
  }

  /// Forgets a deleted login.
  public mutating func forget(login: UInt64) {
    groupOfLogin[login] = nil
  }

  /// The group last recorded for `login`.
  public func group(of login: UInt64) -> String? { groupOfLogin[login] }

  /// Whether records of `group` pass the mask (decisions are cached per group).
  public mutating func admits(group: String) -> Bool {
    if let cached = decisionForGroup[group] { return cached }
    let decision = mask.admits(group)
    decisionForGroup[group] = decision
    return decision
  }

  /// Whether records of `login` pass the mask.
  public mutating func admission(of login: UInt64) -> Admission {
    guard let group = groupOfLogin[login] else { return .unknownLogin }
    return admits(group: group) ? .admitted : .excluded
  }

  /// Applies a new `Groups` value (hot reload); known logins are kept.
  public mutating func replaceMask(_ mask: GroupMask) {
    self.mask = mask
    decisionForGroup.removeAll(keepingCapacity: true)
  }
}
