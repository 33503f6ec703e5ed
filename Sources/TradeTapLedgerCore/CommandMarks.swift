import TradeTapEvents

/// Reconciliation's check of CRM commands against the platform (docs/commands.md):
/// every record marked `TT#<id>` belongs to a command that is done with exactly that
/// record, and every done money command's record exists. These are reported, never
/// corrected: a mark nobody sent, or money a command moved that the platform lost, is
/// for a person to look at.
public enum CommandMarks {
  /// A command as the check needs it.
  public struct Command: Sendable, Hashable {
    public var status: CommandStatus
    /// The deal (MT4: ticket) a done money movement made.
    public var deal: UInt64?
    public init(status: CommandStatus, deal: UInt64?) {
      self.status = status
      self.deal = deal
    }
  }

  /// The divergences of the platform's marked records.
  /// - Parameters:
  ///   - subject: `.deal` (MT5) or `.trade` (MT4).
  ///   - records: the snapshot's records (deal or ticket, comment).
  ///   - commands: the server's commands by id.
  public static func divergences(
    subject: LedgerDivergence.Subject, records: [(key: Int64, comment: String)], commands: [UInt64: Command]
  ) -> [LedgerDivergence] {
    var found: [LedgerDivergence] = []
    for record in records {
      guard let id = CommandMarker.commandId(in: record.comment) else { continue }
      let mark = "TT#\(id)"
      guard let command = commands[id] else {
        found.append(LedgerDivergence(subject: subject, key: record.key, field: "command", ledgerValue: nil, platformValue: mark))
        continue
      }
      switch command.status {
      case .pending, .sent, .unknown:
        continue  // in flight: its result is on its way
      case .done where command.deal.map({ Int64(bitPattern: $0) }) == record.key:
        continue
      case .done, .rejected:
        let ledger = "command \(id) \(command.status.rawValue)" + (command.deal.map { " deal \($0)" } ?? "")
        found.append(LedgerDivergence(subject: subject, key: record.key, field: "command", ledgerValue: ledger, platformValue: mark))
      }
    }
    return found
  }

  /// A done money command whose record is neither in the snapshot nor in the ledger.
  public static func missingRecord(commandId: Int64, deal: Int64) -> LedgerDivergence {
    LedgerDivergence(subject: .command, key: commandId, field: "deal", ledgerValue: "done deal \(deal)", platformValue: nil)
  }
}
