import Foundation
import TradeTapEvents

/// How many destructive corrections one sweep may write before it is held
/// (`--reconcile-max-deletions`, docs/reconciliation.md "Held sweeps").
///
/// A platform that answers an impossible book (a host restored from an empty
/// backup, pointed at the wrong database, a broken query function) would otherwise
/// mark the whole ledger deleted in one transaction. A sweep whose deletions exceed
/// the limit writes nothing but its divergences, with status `held`, until an
/// operator applies it.
///
/// Syntax: one or two terms separated by a comma, each a row count (`100`) or a
/// percentage of the ledger rows the sweep compared (`1%`, `0.5%`); the limit is the
/// larger of them. Default `1%,100`. `0` holds every sweep that would delete
/// anything; `100%` never holds.
public struct ReconciliationDeletionLimit: Sendable, Hashable, CustomStringConvertible {
  /// A row count, when given.
  public var rows: Int?
  /// A share of the compared ledger rows, in percent, when given.
  public var percent: Double?

  public static let `default` = ReconciliationDeletionLimit(rows: 100, percent: 1)

  public init(rows: Int? = nil, percent: Double? = nil) {
    self.rows = rows
    self.percent = percent
  }

  /// Parses `100`, `1%`, `1%,100`; nil for anything else (negative, empty, junk).
  public init?(_ text: String) {
    let terms = text.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard (1...2).contains(terms.count) else { return nil }
    for term in terms {
      if term.hasSuffix("%") {
        guard percent == nil, let value = Double(term.dropLast()), value.isFinite, (0...100).contains(value) else {
          return nil
        }
        percent = value
      } else {
        guard rows == nil, let value = Int(term), value >= 0 else { return nil }
        rows = value
      }
    }
  }

  /// The most deletions allowed when the sweep compared `ledgerRows` rows.
  public func threshold(ledgerRows: Int) -> Int {
    let share = percent.map { $0 >= 100 ? Int.max : Int((Double(ledgerRows) * $0 / 100).rounded(.down)) }
    return max(rows ?? 0, share ?? 0)
  }

  public var description: String {
    [percent.map { "\($0.formatted())%" }, rows.map { "\($0)" }].compactMap { $0 }.joined(separator: ",")
  }
}

private extension Double {
  func formatted() -> String { self == rounded() ? "\(Int(self))" : "\(self)" }
}

/// What a call to `reconcile` does with the divergences it finds.
public enum ReconciliationMode: Sendable, Hashable {
  /// A sweep: correct, unless the deletions exceed `limit` (nil: no limit); then
  /// record the divergences as `held` and correct nothing.
  case sweep(limit: ReconciliationDeletionLimit?)
  /// An operator applies held sweep `sweepId` (`POST /v1/reconciliation/sweeps/{id}/apply`):
  /// its snapshot is compared again at its own points, without limit, and corrected.
  case applyHeld(sweepId: Int64)
}

/// Why a held sweep cannot be applied.
public enum HeldSweepError: Error, Sendable, Hashable, CustomStringConvertible {
  /// No sweep has this id.
  case unknownSweep(Int64)
  /// The sweep is `applied` or `superseded` (a later sweep of its server completed).
  case notHeld(Int64, status: String)

  public var description: String {
    switch self {
    case .unknownSweep(let id): "no reconciliation sweep \(id)"
    case .notHeld(let id, let status): "reconciliation sweep \(id) is \(status), not held"
    }
  }
}

/// `reconciliation_sweeps.status` and `reconciliation_divergences.status`.
public enum ReconciliationStatus {
  public static let applied = "applied"
  public static let held = "held"
  public static let superseded = "superseded"
}

extension LedgerDivergence {
  /// Whether this correction destroys ledger state: a row marked deleted or removed,
  /// or an account's balance or credit set to zero from a non-zero value.
  public var isDestructive: Bool {
    switch correction {
    case .markedDeleted, .removed: return true
    case .inserted, .reported: return false
    case .updated:
      guard field == "balance" || field == "credit" else { return false }
      let platform = platformValue.flatMap { ExactDecimal($0) }
      let ledger = ledgerValue.flatMap { ExactDecimal($0) }
      return platform?.isZero == true && ledger?.isZero == false
    }
  }
}

extension ReconciliationOutcome {
  /// Rows the sweep would delete or zero (each row once, whatever its fields).
  public var destructiveRows: Int {
    Set(divergences.lazy.filter(\.isDestructive).map { "\($0.subject.rawValue) \($0.key)" }).count
  }
}
