import Foundation
import TradeServerAPI

/// The Manager-API writes a plugin may call from its own threads (second round of
/// shared/spec/plugin-abi.md): `user_create` and `balance_change`, with the
/// platforms' rules. Each runs under its shard's lock, like the owning host thread's
/// operations, and fires the hooks the platform would (`on_user_add`; `on_deal_add`
/// or `on_trade_add`, then `on_user_update`) before it returns. Neither is idempotent:
/// calling twice moves money twice, as on a real server.
extension PluginHost {
  /// `balance_change`: the deal's (MT4: trade's) ticket, or why nothing changed.
  func balanceChange(login: UInt64, action: UInt32, amount: Double, comment: String) -> (ts_result, UInt64) {
    guard amount.isFinite, amount != 0 else { return (TS_ERR_INVALID_ARGUMENT, 0) }
    guard let shard = shards.first(where: { shard in shard.withLock { shard.account(login) != nil } }) else {
      return (TS_ERR_NOT_FOUND, 0)
    }
    let sinks = activeSinks
    return shard.withLock {
      defer { _ = shard.drainEvents { HookDispatch.fire($0, to: sinks) } }
      // Deleted between the lookup and the lock: as if never found.
      guard let account = shard.account(login) else { return (TS_ERR_NOT_FOUND, 0) }
      guard let minor = Self.minorUnits(exactly: amount, digits: account.currencyDigits) else {
        return (TS_ERR_INVALID_ARGUMENT, 0)
      }
      do {
        switch shard.server {
        case .mt5(let server):
          guard let dealAction = DealAction(rawValue: action),
            [.balance, .credit, .charge, .correction, .bonus].contains(dealAction)
          else { return (TS_ERR_INVALID_ARGUMENT, 0) }
          let deal = try server.balanceOperation(login: login, action: dealAction, amount: minor, comment: comment)
          return (TS_OK, deal.deal)
        case .mt4(let server):
          // MT4's ClientsChangeBalance / ClientsChangeCredit: OP_BALANCE and OP_CREDIT only.
          guard action == UInt32(TS_DEAL_BALANCE) || action == UInt32(TS_DEAL_CREDIT) else {
            return (TS_ERR_INVALID_ARGUMENT, 0)
          }
          let ticket = try server.balanceOperation(
            login: login, credit: action == UInt32(TS_DEAL_CREDIT), amount: minor, comment: comment)
          return (TS_OK, UInt64(ticket))
        }
      } catch {
        return (Self.result(of: error), 0)
      }
    }
  }

  /// `user_create`: the new account's login (`user.login` 0: the host assigns one).
  func userCreate(_ user: ts_user) -> (ts_result, UInt64) {
    let group = Self.cText(user.group), currency = Self.cText(user.currency)
    guard !shards.isEmpty, user.leverage > 0, user.currency_digits <= 8, !currency.isEmpty else {
      return (TS_ERR_INVALID_ARGUMENT, 0)
    }
    // The simulated server's groups: MT5's set the margin mode (hedging or netting).
    let marginMode: MarginMode
    switch (platform, group) {
    case (UInt32(TS_PLATFORM_MT5), "real\\hedging"): marginMode = .hedging
    case (UInt32(TS_PLATFORM_MT5), "real\\netting"): marginMode = .netting
    case (UInt32(TS_PLATFORM_MT4), "real"): marginMode = .hedging
    default: return (TS_ERR_INVALID_ARGUMENT, 0)
    }
    // Logins are unique across shards: take them all for the check and the choice.
    return withEveryShardLocked { shards -> (ts_result, UInt64) in
      let taken = shards.flatMap(\.logins)
      let login = user.login != 0 ? user.login : (taken.max() ?? 9_999) + 1
      guard !taken.contains(login), platform != UInt32(TS_PLATFORM_MT4) || login <= UInt64(Int32.max) else {
        return (TS_ERR_INVALID_ARGUMENT, 0)
      }
      let shard = shards[Int(login % UInt64(shards.count))]
      var account = Account(
        login: login, group: group, name: Self.cText(user.name), marginMode: marginMode, leverage: user.leverage,
        currency: currency, currencyDigits: Int(user.currency_digits), timeMsc: 0)
      account.email = Self.cText(user.email)
      account.country = Self.cText(user.country)
      account.comment = Self.cText(user.comment)
      let sinks = activeSinks
      defer { _ = shard.drainEvents { HookDispatch.fire($0, to: sinks) } }
      do {
        switch shard.server {
        case .mt5(let server): try server.createAccount(account)
        case .mt4(let server): try server.createAccount(account)
        }
      } catch {
        return (Self.result(of: error), 0)
      }
      return (TS_OK, login)
    }
  }

  /// Counts a write that applied, then waits out the test knob's delay (outside every lock).
  func wrote(_ result: ts_result, comment: String = "") {
    guard result == TS_OK else { return }
    writesApplied.add(1, ordering: .relaxed)
    if slowWriteMicroseconds > 0, comment.contains("slow-write") { usleep(slowWriteMicroseconds) }
  }

  /// An amount in whole minor units, or nil when it has more decimals than the
  /// currency (1e-6 of a minor unit absorbs the double's representation error).
  static func minorUnits(exactly amount: Double, digits: Int) -> Int64? {
    let scaled = amount * pow(10, Double(digits))
    let rounded = scaled.rounded()
    guard abs(scaled - rounded) <= max(1e-6, abs(scaled) * 1e-12), abs(rounded) < 9e15 else { return nil }
    return Int64(rounded)
  }

  static func result(of error: any Error) -> ts_result {
    switch error as? TradeRejection {
    case .unknownAccount: TS_ERR_NOT_FOUND
    case .insufficientBalance: TS_ERR_NO_MONEY
    case .accountExists, .invalidAmount: TS_ERR_INVALID_ARGUMENT
    default: TS_ERR_INTERNAL
    }
  }

  static func cText<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { bytes in
      let end = bytes.firstIndex(of: 0) ?? bytes.count
      return String(decoding: bytes[..<end], as: UTF8.self)
    }
  }
}
