import TradeServerAPI
import TradeTapEvents
import TradeTapWire

/// The host's Manager-API writes (`user_create`, `balance_change`) and the searches
/// that find a command's `TT#<id>` mark in the platform's own records. Command
/// thread only: the host allows these calls from plugin threads, never from a hook.
struct HostWrites {
  let api: UnsafePointer<ts_server_api>
  /// `TS_PLATFORM_*` of the host (`ts_server_info.platform`).
  let platform: UInt32

  typealias UserCreate = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<ts_user>?, UnsafeMutablePointer<UInt64>?) -> ts_result
  typealias BalanceChange = @convention(c) (
    UnsafeMutableRawPointer?, UInt64, UInt32, Double, UnsafePointer<CChar>?, UnsafeMutablePointer<UInt64>?
  ) -> ts_result

  /// A member appended after the first round, read only when the host's struct_size
  /// covers it: a first-round host's table ends before it (reading on would read past
  /// the host's memory).
  private func appended<F>(_ keyPath: KeyPath<ts_server_api, F?>, as: F.Type) -> F? {
    guard let offset = MemoryLayout<ts_server_api>.offset(of: keyPath),
      Int(api.pointee.struct_size) >= offset + MemoryLayout<F?>.size
    else { return nil }
    return UnsafeRawPointer(api).load(fromByteOffset: offset, as: F?.self)
  }

  var userCreate: UserCreate? { appended(\.user_create, as: UserCreate.self) }
  var balanceChange: BalanceChange? { appended(\.balance_change, as: BalanceChange.self) }

  /// Broker time now.
  var brokerMilliseconds: Int64 {
    guard let time = api.pointee.time_msc else { return 0 }
    return time(api.pointee.host)
  }

  /// Runs the command's host call once. - Returns: the host's result and the deal or login it made;
  /// nil when the host does not offer the call.
  func run(_ command: CommandMessage) -> (ts_result, UInt64)? {
    let host = api.pointee.host
    switch command.request {
    case .openAccount(let opening):
      guard let create = userCreate else { return nil }
      var user = ts_user()
      user.struct_size = UInt32(MemoryLayout<ts_user>.size)
      user.login = opening.login
      Self.fill(&user.group, opening.group)
      Self.fill(&user.name, opening.name)
      Self.fill(&user.email, opening.email)
      Self.fill(&user.country, opening.country)
      Self.fill(&user.currency, opening.currency)
      Self.fill(&user.comment, "TT#\(command.commandId)")
      user.currency_digits = UInt32(opening.currencyDigits)
      user.leverage = opening.leverage
      var login: UInt64 = 0
      let result = create(host, &user, &login)
      return (result, login)
    case .moveMoney(let movement):
      guard let change = balanceChange else { return nil }
      guard let action = movement.dealAction, let signed = movement.signedAmount else {
        return (TS_ERR_INVALID_ARGUMENT, 0)
      }
      // The exact amount's nearest double: the host rounds it to the account's digits.
      let amount = Double(signed.mantissa) / Self.powerOfTen(signed.scale)
      let fieldSize = platform == UInt32(TS_PLATFORM_MT4) ? 32 : 64
      let comment = CommandMarker.comment(commandId: command.commandId, crmComment: movement.comment, fieldSize: fieldSize)
      var deal: UInt64 = 0
      let result = comment.withCString { change(host, movement.login, action.rawValue, amount, $0, &deal) }
      return (result, deal)
    }
  }

  /// What a search of the platform's records found.
  enum Search: Equatable {
    /// The platform holds the command's record: its deal (ticket) or login.
    case found(UInt64)
    /// The platform holds no record marked with the command.
    case absent
    /// The host could not be searched; the outcome stays unknown.
    case failed(String)
  }

  /// Looks for `TT#<command id>` in the platform's records made since the intent:
  /// MT5 deals (`deals_enum` from 5 minutes before the intent to a minute from now),
  /// MT4 trade records of the login (`trades_enum`), or accounts (`users_enum`).
  func search(_ command: CommandMessage, since intentMilliseconds: Int64) -> Search {
    // Member by member: a copy of the whole table would read past a first-round host's.
    let host = api.pointee.host
    var finder = MarkFinder(commandId: command.commandId)
    let result: ts_result
    switch command.request {
    case .openAccount:
      guard let usersEnum = api.pointee.users_enum else { return .failed("the host offers no users_enum to search") }
      result = withUnsafeMutablePointer(to: &finder) { usersEnum(host, { ctx, user in MarkFinder.visitUser(ctx, user) }, $0) }
    case .moveMoney(let movement):
      if platform == UInt32(TS_PLATFORM_MT4) {
        guard let tradesEnum = api.pointee.trades_enum else { return .failed("the host offers no trades_enum to search") }
        guard movement.login <= UInt64(Int32.max) else { return .absent }
        result = withUnsafeMutablePointer(to: &finder) {
          tradesEnum(host, Int32(movement.login), 0, { ctx, trade in MarkFinder.visitTrade(ctx, trade) }, $0)
        }
      } else {
        guard let dealsEnum = api.pointee.deals_enum else { return .failed("the host offers no deals_enum to search") }
        let from = intentMilliseconds &- 300_000, to = max(brokerMilliseconds, intentMilliseconds) &+ 60_000
        result = withUnsafeMutablePointer(to: &finder) {
          dealsEnum(host, from, to, { ctx, deal in MarkFinder.visitDeal(ctx, deal) }, $0)
        }
      }
    }
    if let found = finder.found { return .found(found) }
    return result == TS_OK ? .absent : .failed("the host's search answered \(result)")
  }

  /// The search's visitor state: stops at the first record marked with the command.
  private struct MarkFinder {
    let commandId: UInt64
    var found: UInt64?

    static func visitDeal(_ ctx: UnsafeMutableRawPointer?, _ deal: UnsafePointer<ts_deal>?) -> Int32 {
      guard let ctx, let deal, covers(deal.pointee.struct_size, \ts_deal.comment, MemoryLayout.size(ofValue: deal.pointee.comment))
      else { return 0 }
      return mark(ctx, deal.pointee.comment, value: deal.pointee.deal)
    }

    static func visitTrade(_ ctx: UnsafeMutableRawPointer?, _ trade: UnsafePointer<ts_trade_record>?) -> Int32 {
      guard let ctx, let trade,
        covers(trade.pointee.struct_size, \ts_trade_record.comment, MemoryLayout.size(ofValue: trade.pointee.comment))
      else { return 0 }
      return mark(ctx, trade.pointee.comment, value: UInt64(UInt32(bitPattern: trade.pointee.order)))
    }

    static func visitUser(_ ctx: UnsafeMutableRawPointer?, _ user: UnsafePointer<ts_user>?) -> Int32 {
      guard let ctx, let user, covers(user.pointee.struct_size, \ts_user.comment, MemoryLayout.size(ofValue: user.pointee.comment))
      else { return 0 }
      return mark(ctx, user.pointee.comment, value: user.pointee.login)
    }

    /// Whether a record of `size` bytes holds the field at `keyPath` whole.
    private static func covers<R, F>(_ size: UInt32, _ keyPath: KeyPath<R, F>, _ fieldSize: Int) -> Bool {
      guard let offset = MemoryLayout<R>.offset(of: keyPath) else { return false }
      return Int(size) >= offset + fieldSize
    }

    private static func mark<T>(_ ctx: UnsafeMutableRawPointer, _ comment: T, value: UInt64) -> Int32 {
      let finder = ctx.assumingMemoryBound(to: MarkFinder.self)
      let id = withUnsafeBytes(of: comment) { CommandMarker.commandId(in: $0) }
      guard id == finder.pointee.commandId else { return 0 }
      finder.pointee.found = value
      return 1
    }
  }

  /// Copies `text` into a C char array, cut to leave the terminator.
  static func fill<T>(_ field: inout T, _ text: String) {
    withUnsafeMutableBytes(of: &field) { buffer in
      buffer.initializeMemory(as: UInt8.self, repeating: 0)
      var i = 0
      for byte in text.utf8 where i < buffer.count - 1 {
        buffer[i] = byte
        i += 1
      }
    }
  }

  static func powerOfTen(_ scale: UInt8) -> Double {
    var value = 1.0
    for _ in 0..<scale { value *= 10 }
    return value
  }
}
