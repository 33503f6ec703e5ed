import NIOCore
import Synchronization

/// Text a peer chose (an error frame's message), made safe for one log line: cut to
/// `limit` characters, and every control, format or line/paragraph separator
/// character written as an escape, so a newline in it can never start a forged
/// line and a bidi override can never reorder what an operator reads. Backslashes
/// are doubled, so an escape in the output always came from this function.
enum PeerText {
  /// Characters of peer text kept in a log line (an error frame may carry 1,024 bytes).
  static let limit = 200

  static func loggable(_ text: String, limit: Int = PeerText.limit) -> String {
    var out = ""
    var kept = 0
    for scalar in text.unicodeScalars {
      guard kept < limit else {
        out += "…(cut)"
        break
      }
      kept += 1
      switch scalar {
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\\": out += "\\\\"
      default:
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
          out += "\\u{" + String(scalar.value, radix: 16) + "}"
        default:
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }
}

/// Rate limit of the protocol port's refusal lines: at most `linesPerSecond` a
/// second, collector-wide. The refusals left out are counted, and the next line
/// logged says how many (`tradetap.refusals_not_logged`), so a flood of bad
/// connections costs a bounded log and still shows its size.
final class RefusalLog: Sendable {
  let linesPerSecond: Int
  private let window = Mutex((start: UInt64(0), lines: 0, notLogged: 0))

  init(linesPerSecond: Int = 10) {
    self.linesPerSecond = max(1, linesPerSecond)
  }

  /// Whether to log a refusal now: nil when over the rate (counted), else how many
  /// were left out since the last line logged.
  func admit(now: NIODeadline = .now()) -> Int? {
    let nanos = now.uptimeNanoseconds
    return window.withLock { w in
      if nanos &- w.start >= 1_000_000_000 {
        w.start = nanos
        w.lines = 0
      }
      guard w.lines < linesPerSecond else {
        w.notLogged += 1
        return nil
      }
      w.lines += 1
      defer { w.notLogged = 0 }
      return w.notLogged
    }
  }
}
