import Glibc

/// What a closed journal still holds, read from its header page without opening it
/// as a journal: no lock, no recovery, not a byte written (``Journal/open(directory:sizeMB:)``
/// repairs; this only looks). For tools that ran a plugin and want to tell their
/// user what it left behind (`tradetap sim`'s last line).
public struct JournalBacklog: Sendable, Equatable {
  /// Sequence numbers claimed by hooks and not yet acknowledged by a collector:
  /// events a later start of the plugin on the same journal delivers.
  public var unacknowledged: UInt64
  /// The journal's capacity in slots.
  public var capacity: UInt64

  /// Reads `<directory>/journal.ttj`'s header; nil when there is no such file, or it
  /// is not a journal of this layout (magic, version, slot size).
  public static func read(directory: String) -> JournalBacklog? {
    let path = directory.hasSuffix("/") ? directory + "journal.ttj" : directory + "/journal.ttj"
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var header = [UInt8](repeating: 0, count: JournalLayout.releasedOffset + 8)
    let count = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard count == header.count else { return nil }
    func u64(_ offset: Int) -> UInt64 {
      (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[offset + $1]) << (8 * UInt64($1)) }
    }
    func u32(_ offset: Int) -> UInt32 { UInt32(truncatingIfNeeded: u64(offset) & 0xFFFF_FFFF) }
    guard u64(JournalLayout.magicOffset) == JournalLayout.magic, u32(JournalLayout.versionOffset) == JournalLayout.version,
      u32(JournalLayout.slotSizeOffset) == UInt32(JournalLayout.slotSize)
    else { return nil }
    let tail = u64(JournalLayout.tailOffset), released = u64(JournalLayout.releasedOffset)
    return JournalBacklog(unacknowledged: tail >= released ? tail - released : 0, capacity: u64(JournalLayout.slotCountOffset))
  }
}
