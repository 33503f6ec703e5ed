/// Which hook a journal record came from, or which record the plugin itself wrote.
/// The raw value is stored in the journal and on the wire: values are fixed once
/// shipped and new kinds are appended.
public enum RecordKind: UInt16, Sendable, CaseIterable {
  // MT5 dialect hooks.
  case dealAdd = 1
  case dealUpdate = 2
  case dealDelete = 3
  case orderAdd = 4
  case orderUpdate = 5
  case orderDelete = 6
  case positionAdd = 7
  case positionUpdate = 8
  case positionDelete = 9
  // MT4 dialect hooks.
  case tradeAdd = 10
  case tradeUpdate = 11
  // Both dialects.
  case userAdd = 12
  case userUpdate = 13
  case userDelete = 14
  // Written by the plugin, not by a hook.
  /// Sequence numbers that were claimed but never committed (the host died mid-hook),
  /// or events that could not be journaled because the journal was full.
  case gap = 32
  // Snapshots (appended): records the plugin read through the host's query functions
  // (`users_enum`, `positions_enum`, `deals_enum`, `trades_enum`) for reconciliation,
  // not through a hook. They travel in snapshot chunks with sequence 0.
  case userSnapshot = 40
  case positionSnapshot = 41
  case dealSnapshot = 42
  case tradeSnapshot = 43
  // The gateway model (appended): hooks of a plugin loaded through `ts_gateway_startup`.
  /// `on_dealer_lock`: a `ts_request`.
  case dealerLock = 50
  /// `on_dealer_answer`: a `ts_confirm`.
  case dealerAnswer = 51
  /// `on_execution`: a `ts_execution`.
  case execution = 52
  /// `on_execution_ack`: no host record; the hook journals the two arguments
  /// (``RecordLayout/executionAckSize`` bytes: u32 server_id, 4 zero bytes, u64 execution_id).
  case executionAck = 53
}
