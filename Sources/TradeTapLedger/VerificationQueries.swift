/// The SQL `tradetap verify` reads, the same text on both backends: each ends with the
/// `server_id` column the caller compares with the bound id (` = ?` on SQLite, a
/// `PostgresQuery` interpolation on PostgreSQL). Money columns pass through `money`
/// (PostgreSQL casts its NUMERIC to text) so both backends return exact decimal text.
public enum VerificationQueries {
  /// The statement of `set`, ending with `server_id`; the caller appends the bound comparison.
  public static func sql(_ set: VerificationSet, money: (String) -> String) -> String {
    switch set {
    case .accounts:
      "SELECT login, \(money("balance")), \(money("credit")) FROM accounts WHERE deleted = 0 AND server_id"
    case .deals:
      """
      SELECT deal, login, "order", position_id, action, entry, symbol, \(money("price")), volume_ext, \(money("profit")),
             \(money("commission")), \(money("storage")), \(money("fee")), time_msc, comment
      FROM deals WHERE deleted = 0 AND server_id
      """
    case .positions:
      """
      SELECT position, login, symbol, action, volume_ext, \(money("price_open")), \(money("storage"))
      FROM positions WHERE server_id
      """
    case .openTrades, .historyTrades:
      """
      SELECT ticket, login, symbol, cmd, volume, \(money("open_price")), \(money("close_price")), \(money("sl")),
             \(money("tp")), \(money("commission")), \(money("storage")), \(money("profit")), comment
      FROM trades WHERE deleted = 0 AND is_open = \(set == .openTrades ? 1 : 0)
        AND NOT (cmd BETWEEN 2 AND 5 AND is_open = 0) AND server_id
      """
    }
  }
}
