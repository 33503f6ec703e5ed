import Logging
import NIOCore
import Synchronization
import TradeTapEvents
import TradeTapLedger
import TradeTapWire

/// Carries the CRM's commands to the live plugin of their trade server and their
/// results back into the ledger (docs/commands.md).
///
/// A command is durable in the ledger before the API answers `202`. From there it
/// reaches the plugin on three occasions: at once when accepted, after every welcome
/// of its server, and on a ``redeliveryInterval`` tick while it is unfinished. Sending
/// one twice is harmless by design: the plugin answers a finished command from its
/// own record and resolves one that may have run from the platform's deals; it never
/// calls the host twice. The collector only has to make sure that an unfinished
/// command is never forgotten.
final class CommandDelivery: Sendable {
  /// Unfinished commands sent per delivery (the rest go on the next tick or result).
  static let batchLimit = 256
  static let redeliveryInterval = TimeAmount.seconds(10)

  private struct Live {
    let connection: UInt64
    let channel: any Channel
  }

  private let ledger: any LedgerStore
  private let logger: Logger
  private let live = Mutex<[UInt32: Live]>([:])
  private let ticker = Mutex<Task<Void, Never>?>(nil)

  init(ledger: any LedgerStore, logger: Logger) {
    self.ledger = ledger
    self.logger = logger
  }

  /// Starts the redelivery tick.
  func start() {
    let task = Task { [weak self] in
      while !Task.isCancelled {
        try? await Task.sleep(nanoseconds: UInt64(Self.redeliveryInterval.nanoseconds))
        guard let self, !Task.isCancelled else { return }
        for serverId in self.live.withLock({ Array($0.keys) }) { await self.deliver(serverId: serverId) }
      }
    }
    ticker.withLock { $0 = task }
  }

  func stop() {
    ticker.withLock {
      $0?.cancel()
      $0 = nil
    }
  }

  // MARK: Connections (their event loops)

  /// A plugin was welcomed: its server's unfinished commands go to it.
  func connected(serverId: UInt32, connection: UInt64, channel: any Channel) {
    live.withLock { $0[serverId] = Live(connection: connection, channel: channel) }
    Task { await deliver(serverId: serverId) }
  }

  func disconnected(serverId: UInt32, connection: UInt64) {
    live.withLock { all in
      if all[serverId]?.connection == connection { all[serverId] = nil }
    }
  }

  /// The API accepted a command for `serverId`: send it now if its plugin is connected.
  func accepted(serverId: UInt32) {
    Task { await deliver(serverId: serverId) }
  }

  /// Reads the server's unfinished commands and hands them to its connection, which
  /// writes those it has not already sent (``CommandDeliveryEvent``).
  func deliver(serverId: UInt32) async {
    guard let target = live.withLock({ $0[serverId] }) else { return }
    do {
      let commands = try await ledger.unfinishedCommands(serverId: serverId, limit: Self.batchLimit)
      guard !commands.isEmpty, target.channel.isActive else { return }
      target.channel.pipeline.fireUserInboundEventTriggered(CommandDeliveryEvent.send(commands))
      let pending = commands.filter { $0.status == .pending }.map(\.id)
      if !pending.isEmpty { try await ledger.markCommandsSent(ids: pending) }
    } catch {
      logger.warning("commands of server \(serverId) not delivered now: \(error); next try in \(Self.redeliveryInterval.nanoseconds / 1_000_000_000) s")
    }
  }

  /// Records what the plugin reported (the connection checked that it sent the command).
  func received(_ result: CommandResultMessage, serverId: UInt32) async {
    let outcome: CommandOutcome
    switch result.status {
    case .done: outcome = .done(deal: result.deal == 0 ? nil : result.deal, login: result.login == 0 ? nil : result.login)
    case .rejected: outcome = .rejected(reason: result.reason.isEmpty ? "rejected" : result.reason, hostResult: result.hostResult)
    case .unknown: outcome = .unknown(reason: result.reason.isEmpty ? "unknown" : result.reason)
    }
    do {
      guard let command = try await ledger.finishCommand(id: Int64(bitPattern: result.commandId), serverId: serverId, outcome: outcome)
      else {
        logger.warning("command result for a command this server does not have", metadata: [
          "tradetap.server_id": "\(serverId)", "tradetap.command_id": "\(result.commandId)",
        ])
        return
      }
      logger.info("command \(command.status.rawValue)", metadata: [
        "tradetap.server_id": "\(serverId)", "tradetap.command_id": "\(command.id)",
        "tradetap.deal": "\(command.deal.map(String.init) ?? "-")", "tradetap.reason": "\(command.reason ?? "-")",
      ])
    } catch {
      // Not lost: the command stays unfinished and the plugin answers it again from its record.
      logger.warning("command result not recorded now: \(error); the plugin answers again on redelivery", metadata: [
        "tradetap.server_id": "\(serverId)", "tradetap.command_id": "\(result.commandId)",
      ])
    }
  }
}

/// Sent down a live plugin connection's pipeline by ``CommandDelivery``.
enum CommandDeliveryEvent: Sendable {
  /// Unfinished commands of the connection's server: write those not in flight on it.
  case send([LedgerCommand])
}

extension CommandMessage {
  /// The wire form of a ledger command.
  init(_ command: LedgerCommand) {
    self.init(commandId: UInt64(bitPattern: command.id), request: command.request)
  }
}
