import CTradeTapShims
import Glibc

/// The open, locked, mapped journal file. Creating it allocates every block
/// (`posix_fallocate`: no SIGBUS on a full disk later); ``JournalPrefault`` keeps
/// the slots ahead of the hooks mapped writable.
struct JournalFile {
  let path: String
  let descriptor: Int32
  let base: UnsafeMutableRawPointer
  let length: Int
  let slotCount: UInt64
  /// True when this open laid the file out anew (its numbering is not yet settled).
  let created: Bool
  /// Set when a damaged file was moved aside and this one started in its place.
  let replaced: JournalReplacement?

  var header: UnsafeMutableRawPointer { base }
  var slots: UnsafeMutableRawPointer { base + JournalLayout.headerSize }

  static func open(directory: String, sizeMB: Int) throws(JournalError) -> JournalFile {
    guard (1...65536).contains(sizeMB) else { throw .invalidSize(megabytes: sizeMB) }
    try makeDirectories(directory)
    let path = directory.hasSuffix("/") ? directory + "journal.ttj" : directory + "/journal.ttj"
    do {
      return try openOnce(path: path, sizeMB: sizeMB, replacing: nil)
    } catch .corrupt(_, let reason) {
      // A damaged journal must not stop the tap: keep it for inspection (never
      // deleted) and start a fresh one that knows events were lost.
      let aside = asidePath(for: path)
      guard rename(path, aside) == 0 else { throw .system(call: "rename", path: aside, errno: errno) }
      return try openOnce(path: path, sizeMB: sizeMB, replacing: JournalReplacement(movedTo: aside, reason: reason))
    }
  }

  /// `journal.ttj.damaged-<UTC yyyymmddThhmmssZ>` (with `-<n>` if that exists already).
  private static func asidePath(for path: String) -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let stamp = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
      + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    var candidate = path + ".damaged-" + stamp
    var suffix = 1
    var status = stat()
    while lstat(candidate, &status) == 0 {
      candidate = path + ".damaged-" + stamp + "-\(suffix)"
      suffix += 1
    }
    return candidate
  }

  private static func openOnce(
    path: String, sizeMB: Int, replacing replaced: JournalReplacement?
  ) throws(JournalError) -> JournalFile {
    var existing = stat()
    let existed = lstat(path, &existing) == 0
    let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw .system(call: "open", path: path, errno: errno) }
    do {
      guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
        if errno == EWOULDBLOCK { throw JournalError.locked(path: path) }
        throw JournalError.system(call: "flock", path: path, errno: errno)
      }
      let (slotCount, created) = try prepare(
        fd: fd, path: path, wantedSlots: JournalLayout.slotCount(sizeMB: sizeMB), existed: existed,
        freshness: replaced == nil ? .fresh : .freshAfterLoss)
      let length = JournalLayout.headerSize + Int(slotCount) * JournalLayout.slotSize
      // No MAP_POPULATE nor a touch of every page here: that took 1.4-3.2 s for 1 GB
      // and did not last (writeback write-protects the pages again). JournalPrefault
      // keeps the slots ahead of the tail writable instead.
      let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
      guard let mapped, Int(bitPattern: mapped) != -1 else {
        throw JournalError.system(call: "mmap", path: path, errno: errno)
      }
      _ = tt_populate_write(mapped, UInt64(JournalLayout.headerSize))
      return JournalFile(path: path, descriptor: fd, base: mapped, length: length, slotCount: slotCount,
                         created: created, replaced: replaced)
    } catch let error as JournalError {
      Glibc.close(fd)
      throw error
    } catch {
      Glibc.close(fd)
      throw .corrupt(path: path, reason: "\(error)")
    }
  }

  func close() {
    munmap(base, length)
    Glibc.close(descriptor)  // drops the flock
  }

  /// Validates an existing file or lays out a new one; returns the slot count in use.
  /// An existing non-empty journal keeps its geometry (its records are never
  /// discarded); an empty one is resized to `wantedSlots`, keeping its sequence
  /// numbers and unreported overflow.
  /// - Returns: the slot count and whether the file was laid out anew.
  /// - Throws: ``JournalError/corrupt(path:reason:)`` for a file that existed but is
  ///   not a usable journal (too short, no or bad magic, positions out of range).
  private static func prepare(
    fd: Int32, path: String, wantedSlots: UInt64, existed: Bool, freshness: JournalFreshness
  ) throws(JournalError) -> (UInt64, Bool) {
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw .system(call: "fstat", path: path, errno: errno) }
    var page = [UInt8](repeating: 0, count: JournalLayout.headerSize)
    var carried = (tail: UInt64(0), pendingOverflow: UInt64(0), overflowTotal: UInt64(0), uncommitted: UInt64(0),
                   wireOffset: UInt64(0), freshness: freshness.rawValue)
    if existed && status.st_size < JournalLayout.headerSize {
      throw .corrupt(path: path, reason: status.st_size == 0
        ? "the file is empty (0 bytes)" : "the file is shorter than its header (\(status.st_size) bytes)")
    }
    if status.st_size >= JournalLayout.headerSize {
      let got = page.withUnsafeMutableBytes { pread(fd, $0.baseAddress, JournalLayout.headerSize, 0) }
      guard got == JournalLayout.headerSize else { throw .system(call: "pread", path: path, errno: errno) }
      let word = { (offset: Int) -> UInt64 in page.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) } }
      let magic = word(JournalLayout.magicOffset)
      // No magic: the header was wiped, or a creation was cut short. Either way
      // whatever the file held is unreadable: treat it as damaged.
      guard magic != 0 else { throw .corrupt(path: path, reason: "no magic (header zeroed)") }
        guard magic == JournalLayout.magic else { throw .corrupt(path: path, reason: "bad magic") }
        let versionAndSize = word(JournalLayout.versionOffset)
        guard UInt32(truncatingIfNeeded: versionAndSize) == JournalLayout.version,
          UInt32(truncatingIfNeeded: versionAndSize >> 32) == UInt32(JournalLayout.slotSize)
        else { throw .corrupt(path: path, reason: "unsupported version or slot size") }
        let slots = word(JournalLayout.slotCountOffset)
        let tail = word(JournalLayout.tailOffset)
        let released = word(JournalLayout.releasedOffset)
        guard slots > 0, released <= tail, tail - released <= slots else {
          throw .corrupt(path: path, reason: "header positions out of range")
        }
        guard Int(status.st_size) >= JournalLayout.headerSize + Int(slots) * JournalLayout.slotSize else {
          throw .corrupt(path: path, reason: "file shorter than its slots")
        }
        guard UInt32(truncatingIfNeeded: word(JournalLayout.freshnessOffset)) <= JournalFreshness.freshAfterLoss.rawValue
        else { throw .corrupt(path: path, reason: "unknown freshness state") }
        if slots == wantedSlots || tail != released { return (slots, false) }
        carried = (tail, word(JournalLayout.pendingOverflowOffset), word(JournalLayout.overflowTotalOffset),
                   word(JournalLayout.uncommittedTotalOffset), word(JournalLayout.wireOffsetOffset),
                   UInt32(truncatingIfNeeded: word(JournalLayout.freshnessOffset)))
    }
    // New (or empty and resized) journal.
    guard ftruncate(fd, 0) == 0 else { throw .system(call: "ftruncate", path: path, errno: errno) }
    let length = JournalLayout.headerSize + Int(wantedSlots) * JournalLayout.slotSize
    let failure = posix_fallocate(fd, 0, off_t(length))
    guard failure == 0 else { throw .system(call: "posix_fallocate", path: path, errno: failure) }
    page = [UInt8](repeating: 0, count: JournalLayout.headerSize)
    page.withUnsafeMutableBytes { raw in
      raw.storeBytes(of: JournalLayout.version, toByteOffset: JournalLayout.versionOffset, as: UInt32.self)
      raw.storeBytes(of: UInt32(JournalLayout.slotSize), toByteOffset: JournalLayout.slotSizeOffset, as: UInt32.self)
      raw.storeBytes(of: wantedSlots, toByteOffset: JournalLayout.slotCountOffset, as: UInt64.self)
      raw.storeBytes(of: carried.tail, toByteOffset: JournalLayout.tailOffset, as: UInt64.self)
      raw.storeBytes(of: carried.tail, toByteOffset: JournalLayout.releasedOffset, as: UInt64.self)
      raw.storeBytes(of: carried.pendingOverflow, toByteOffset: JournalLayout.pendingOverflowOffset, as: UInt64.self)
      raw.storeBytes(of: carried.overflowTotal, toByteOffset: JournalLayout.overflowTotalOffset, as: UInt64.self)
      raw.storeBytes(of: carried.uncommitted, toByteOffset: JournalLayout.uncommittedTotalOffset, as: UInt64.self)
      raw.storeBytes(of: carried.wireOffset, toByteOffset: JournalLayout.wireOffsetOffset, as: UInt64.self)
      raw.storeBytes(of: carried.freshness, toByteOffset: JournalLayout.freshnessOffset, as: UInt32.self)
    }
    // The magic goes last: a file cut short before it is simply laid out again.
    try writeAll(fd: fd, path: path, bytes: page, offset: 0)
    var magic = JournalLayout.magic
    let wrote = pwrite(fd, &magic, 8, off_t(JournalLayout.magicOffset))
    guard wrote == 8 else { throw .system(call: "pwrite", path: path, errno: errno) }
    return (wantedSlots, true)
  }

  private static func writeAll(fd: Int32, path: String, bytes: [UInt8], offset: Int) throws(JournalError) {
    let wrote = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
    guard wrote == bytes.count else { throw .system(call: "pwrite", path: path, errno: errno) }
  }

  private static func makeDirectories(_ directory: String) throws(JournalError) {
    var prefix = directory.hasPrefix("/") ? "/" : ""
    for component in directory.split(separator: "/") {
      prefix += prefix.isEmpty || prefix.hasSuffix("/") ? String(component) : "/" + component
      if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
        throw .system(call: "mkdir", path: prefix, errno: errno)
      }
    }
  }
}
