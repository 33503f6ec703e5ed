/// What the CRM asks a trade server to do through TradeTap (docs/commands.md): open
/// an account, or move money. The collector keeps it durably, the plugin runs it once
/// through the host's Manager-API writes (`user_create`, `balance_change`).
public enum CommandRequest: Sendable, Hashable {
  case openAccount(AccountOpening)
  case moveMoney(MoneyMovement)

  /// The trade server account the command concerns (0: one the platform will assign).
  public var login: UInt64 {
    switch self {
    case .openAccount(let opening): opening.login
    case .moveMoney(let movement): movement.login
    }
  }
}

/// A new account (`user_create`). Text fields are cut to the host record's sizes by
/// whoever writes the record; the API refuses longer ones first.
public struct AccountOpening: Sendable, Hashable {
  /// 0: the platform assigns the login.
  public var login: UInt64
  public var group: String
  public var name: String
  public var email: String
  public var country: String
  public var currency: String
  /// Decimals of the account currency (2 for USD).
  public var currencyDigits: UInt8
  public var leverage: UInt32

  public init(
    login: UInt64 = 0, group: String, name: String, email: String = "", country: String = "", currency: String,
    currencyDigits: UInt8 = 2, leverage: UInt32
  ) {
    self.login = login
    self.group = group
    self.name = name
    self.email = email
    self.country = country
    self.currency = currency
    self.currencyDigits = currencyDigits
    self.leverage = leverage
  }

  /// The host record's field sizes in bytes, terminator included (`ts_user`).
  public static let fieldSizes = (group: 64, name: 128, email: 64, country: 32, currency: 16)
}

/// A money movement (`balance_change`): always a positive amount; the type says which
/// way it goes and whether it is the client's cash or broker credit.
public struct MoneyMovement: Sendable, Hashable {
  public var login: UInt64
  public var type: BalanceOperationType
  /// Positive, at most the account currency's decimals.
  public var amount: ExactDecimal
  /// The CRM's comment; the deal's comment is `TT#<command id> <comment>` (``CommandMarker``).
  public var comment: String

  public init(login: UInt64, type: BalanceOperationType, amount: ExactDecimal, comment: String = "") {
    self.login = login
    self.type = type
    self.amount = amount
    self.comment = comment
  }

  /// The types a command may move, and how each reaches the platform: the deal action
  /// and the sign of the amount `balance_change` gets. A charge takes money out, a
  /// correction and a bonus put it in (a negative correction is a charge).
  public static let platformForms: [BalanceOperationType: (action: DealAction, sign: Int64)] = [
    .deposit: (.balance, 1), .withdrawal: (.balance, -1),
    .creditIn: (.credit, 1), .creditOut: (.credit, -1),
    .bonus: (.bonus, 1), .correction: (.correction, 1), .charge: (.charge, -1),
  ]

  /// MT4 takes balance and credit only (`OP_BALANCE`, `OP_CREDIT`).
  public static let mt4Types: Set<BalanceOperationType> = [.deposit, .withdrawal, .creditIn, .creditOut]

  /// The deal action `balance_change` gets; nil for a type a command cannot move.
  public var dealAction: DealAction? { Self.platformForms[type]?.action }

  /// The signed amount `balance_change` gets (positive in, negative out); nil for a type a command cannot move.
  public var signedAmount: ExactDecimal? {
    guard let form = Self.platformForms[type] else { return nil }
    return form.sign < 0 ? ExactDecimal(mantissa: -amount.mantissa, scale: amount.scale) : amount
  }
}

/// The mark a command leaves on the platform: `TT#<command id>` at the start of the
/// deal's (MT4: trade's; account: user's) comment. It is how an unknown outcome is
/// resolved from the platform's own records, never by running the command again.
public enum CommandMarker {
  static let prefix: [UInt8] = Array("TT#".utf8)

  /// `TT#<id> <comment>`, cut on a character boundary to fit `fieldSize` bytes with
  /// the C terminator (MT4's trade comment is 32 bytes; the marker itself always fits).
  public static func comment(commandId: UInt64, crmComment: String, fieldSize: Int) -> String {
    let marker = "TT#\(commandId)"
    guard !crmComment.isEmpty else { return marker }
    var text = marker + " "
    var bytes = text.utf8.count
    for character in crmComment {
      let size = character.utf8.count
      guard bytes + size <= fieldSize - 1 else { break }
      text.append(character)
      bytes += size
    }
    return text.count == marker.count + 1 ? marker : text
  }

  /// The command id a comment is marked with: `TT#` and decimal digits, then the end or a space.
  public static func commandId(in comment: some Sequence<UInt8>) -> UInt64? {
    var iterator = comment.makeIterator()
    for expected in prefix {
      guard iterator.next() == expected else { return nil }
    }
    var id: UInt64 = 0
    var digits = 0
    while let byte = iterator.next(), byte != 0, byte != UInt8(ascii: " ") {
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 19 else { return nil }
      id = id * 10 + UInt64(byte - UInt8(ascii: "0"))
      digits += 1
    }
    return digits > 0 && id > 0 ? id : nil
  }

  public static func commandId(in comment: String) -> UInt64? { commandId(in: comment.utf8) }
}
