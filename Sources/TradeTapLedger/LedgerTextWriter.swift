import TradeTapEvents

/// Writes ledger text (integers, exact decimals, fixed words) straight into a byte
/// buffer the caller sized: the write path binds these bytes without ever building
/// a `String` (string interpolation was the writer's largest cost outside SQLite).
struct LedgerTextWriter {
  private let base: UnsafeMutablePointer<UInt8>
  private(set) var count = 0

  init(_ base: UnsafeMutablePointer<UInt8>) {
    self.base = base
  }

  mutating func append(_ text: StaticString) {
    let n = text.utf8CodeUnitCount
    (base + count).update(from: text.utf8Start, count: n)
    count += n
  }

  mutating func append(_ value: UInt64) {
    // Digits backwards into a scratch area after the write position, then forwards.
    var v = value
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes ≥ 20 digits
    let n = withUnsafeMutableBytes(of: &digits) { scratch in
      var i = 24
      repeat {
        i -= 1
        scratch[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
        v /= 10
      } while v > 0
      let n = 24 - i
      for k in 0..<n { base[count + k] = scratch[i + k] }
      return n
    }
    count += n
  }

  mutating func append(_ value: Int64) {
    if value < 0 { append("-") }
    append(value.magnitude)
  }

  /// The exact text with exactly `scale` decimals, as `ExactDecimal.description`.
  mutating func append(_ value: ExactDecimal) {
    var magnitude = value.mantissa.magnitude
    let decimals = Int(value.scale)
    // Length first, then written backwards in place.
    var digitCount = 0
    var probe = magnitude
    repeat { digitCount += 1; probe /= 10 } while probe > 0
    let integerDigits = max(digitCount - decimals, 1)
    let length = (value.mantissa < 0 ? 1 : 0) + integerDigits + (decimals > 0 ? decimals + 1 : 0)
    var at = count + length - 1
    var written = 0
    repeat {
      if written == decimals, decimals > 0 {
        base[at] = UInt8(ascii: ".")
        at -= 1
      }
      base[at] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
      magnitude /= 10
      at -= 1
      written += 1
    } while magnitude > 0 || written <= decimals
    if value.mantissa < 0 { base[at] = UInt8(ascii: "-") }
    count += length
  }
}

extension ExactDecimal {
  /// The most bytes ``LedgerTextWriter/append(_:)-(ExactDecimal)`` writes: sign,
  /// 19 digits, 18 leading zeros of a fraction, the point.
  static let maxLedgerTextBytes = 42
}

extension Event {
  /// The most bytes ``writeSummary(_:)`` writes.
  static let maxWrittenSummaryBytes = 256

  /// Writes ``summary`` in place for the stream's common kinds; `false` (nothing
  /// written) for the others, which use the `String`. Same text, byte for byte.
  func writeSummary(_ w: inout LedgerTextWriter) -> Bool {
    switch body {
    case .deal(let d):
      w.append("deal "); w.append(d.deal); w.append(" login "); w.append(d.login)
      w.append(" action "); w.append(UInt64(d.action.rawValue)); w.append(" entry "); w.append(UInt64(d.entry.rawValue))
      w.append(" volume_ext "); w.append(d.volumeExt); w.append(" profit "); w.append(d.profit)
    case .order(let o):
      w.append("order "); w.append(o.order); w.append(" login "); w.append(o.login)
      w.append(" type "); w.append(UInt64(o.type.rawValue)); w.append(" state "); w.append(UInt64(o.state.rawValue))
    case .position(let p):
      w.append("position "); w.append(p.position); w.append(" login "); w.append(p.login)
      w.append(" volume_ext "); w.append(p.volumeExt); w.append(" profit "); w.append(p.profit)
    case .trade(let t):
      w.append("trade "); w.append(Int64(t.ticket)); w.append(" login "); w.append(Int64(t.login))
      w.append(" cmd "); w.append(Int64(t.command.rawValue)); w.append(" mode "); w.append(Int64(t.mode?.rawValue ?? -1))
      w.append(" profit "); w.append(t.profit)
    case .user(let u):
      w.append("user "); w.append(u.login); w.append(" balance "); w.append(u.balance)
      w.append(" credit "); w.append(u.credit)
    // Gateway bodies: fixed-width fields only, so a hostile peer's long string can
    // never outgrow the buffer (the body blob keeps the rest).
    case .gateway(.request(let r)):
      w.append("request "); w.append(r.requestId); w.append(" server "); w.append(UInt64(r.serverId))
      w.append(" login "); w.append(r.login); w.append(" action "); w.append(UInt64(r.action.rawValue))
      w.append(" volume_ext "); w.append(r.volumeExt)
    case .gateway(.answer(let a)):
      w.append("answer "); w.append(a.requestId); w.append(" server "); w.append(UInt64(a.serverId))
      w.append(" retcode "); w.append(Int64(a.retcode)); w.append(" order "); w.append(a.order)
    case .gateway(.execution(let x)):
      w.append("execution "); w.append(x.executionId); w.append(" server "); w.append(UInt64(x.serverId))
      w.append(" order "); w.append(x.order); w.append(" action "); w.append(UInt64(x.action.rawValue))
      w.append(" volume_ext "); w.append(x.dealVolumeExt); w.append(" price "); w.append(x.dealPrice)
    case .gateway(.executionAck(let k)):
      w.append("execution_ack server "); w.append(UInt64(k.serverId)); w.append(" through "); w.append(k.executionId)
    case .gap, .quarantine:
      return false
    }
    return true
  }
}
