/// An MT-style group mask list, as in the `Groups` parameter: `*,!demo*`.
///
/// Comma-separated masks; `*` matches any run of characters (backslashes of MT5
/// group paths such as `real\usd` included); a leading `!` excludes. A group is
/// admitted when it matches at least one including mask and no excluding mask.
/// Matching ignores ASCII case, as the platforms do.
public struct GroupMask: Sendable, Hashable, CustomStringConvertible {
  /// Including masks, lowercased.
  public let including: [String]
  /// Excluding masks (without the `!`), lowercased.
  public let excluding: [String]

  /// Every group.
  public static let everyGroup = GroupMask(including: ["*"], excluding: [])

  init(including: [String], excluding: [String]) {
    self.including = including
    self.excluding = excluding
  }

  /// Parses a mask list; nil when it is empty, has an empty element or no
  /// including mask (a list of exclusions only admits nothing: surely a mistake).
  public init?(parsing text: String) {
    var including: [String] = []
    var excluding: [String] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      var mask = part.trimmedASCIIWhitespace
      let excludes = mask.hasPrefix("!")
      if excludes { mask = mask.dropFirst().trimmedASCIIWhitespace }
      guard !mask.isEmpty else { return nil }
      if excludes { excluding.append(Self.lowercasedASCII(mask)) } else { including.append(Self.lowercasedASCII(mask)) }
    }
    guard !including.isEmpty else { return nil }
    self.init(including: including, excluding: excluding)
  }

  /// True when `group` is admitted.
  public func admits(_ group: String) -> Bool {
    let name = Array(Self.lowercasedASCII(group).utf8)
    guard including.contains(where: { Self.matches(Array($0.utf8), name) }) else { return false }
    return !excluding.contains(where: { Self.matches(Array($0.utf8), name) })
  }

  public var description: String {
    (including + excluding.map { "!" + $0 }).joined(separator: ",")
  }

  static func lowercasedASCII(_ text: String) -> String {
    String(decoding: text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
  }

  /// Glob match with `*` only, linear backtracking (no recursion).
  static func matches(_ mask: [UInt8], _ name: [UInt8]) -> Bool {
    let star = UInt8(ascii: "*")
    var m = 0, n = 0
    var lastStar = -1, resumeAt = 0
    while n < name.count {
      if m < mask.count, mask[m] == star {
        lastStar = m
        resumeAt = n
        m += 1
      } else if m < mask.count, mask[m] == name[n] {
        m += 1
        n += 1
      } else if lastStar >= 0 {
        m = lastStar + 1
        resumeAt += 1
        n = resumeAt
      } else {
        return false
      }
    }
    while m < mask.count, mask[m] == star { m += 1 }
    return m == mask.count
  }
}
