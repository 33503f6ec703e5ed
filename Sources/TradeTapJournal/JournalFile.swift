import CTradeTapShims
import Glibc

/// The open, locked, mapped journal file. Creating it allocates every block
/// (`posix_fallocate`) and the mapping is pre-faulted writable page by page, so the
/// hook path finds its pages resident.
struct JournalFile {
  let path: String
  let descriptor: Int32
  let base: UnsafeMutableRawPointer
  let length: Int
  let slotCount: UInt64

  var header: UnsafeMutableRawPointer { base }
  var slots: UnsafeMutableRawPointer { base + JournalLayout.headerSize }

  static func open(directory: String, sizeMB: Int) throws(JournalError) -> JournalFile {
    guard (1...65536).contains(sizeMB) else { throw .invalidSize(megabytes: sizeMB) }
    try makeDirectories(directory)
    let path = directory.hasSuffix("/") ? directory + "journal.ttj" : directory + "/journal.ttj"
    let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw .system(call: "open", path: path, errno: errno) }
    do {
      guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
        if errno == EWOULDBLOCK { throw JournalError.locked(path: path) }
        throw JournalError.system(call: "flock", path: path, errno: errno)
      }
      let slotCount = try prepare(fd: fd, path: path, wantedSlots: JournalLayout.slotCount(sizeMB: sizeMB))
      let length = JournalLayout.headerSize + Int(slotCount) * JournalLayout.slotSize
      let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0)
      guard let mapped, Int(bitPattern: mapped) != -1 else {
        throw JournalError.system(call: "mmap", path: path, errno: errno)
      }
      // Write-fault every page now (an atomic add of 0 keeps the contents), so the
      // first hook to reach a page does not take the page-fault.
      var offset = 0
      while offset < length {
        _ = tt_fetch_add_relaxed_u64(mapped + offset, 0)
        offset += 4096
      }
      return JournalFile(path: path, descriptor: fd, base: mapped, length: length, slotCount: slotCount)
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
  private static func prepare(fd: Int32, path: String, wantedSlots: UInt64) throws(JournalError) -> UInt64 {
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw .system(call: "fstat", path: path, errno: errno) }
    var page = [UInt8](repeating: 0, count: JournalLayout.headerSize)
    var carried = (tail: UInt64(0), pendingOverflow: UInt64(0), overflowTotal: UInt64(0), uncommitted: UInt64(0))
    if status.st_size >= JournalLayout.headerSize {
      let got = page.withUnsafeMutableBytes { pread(fd, $0.baseAddress, JournalLayout.headerSize, 0) }
      guard got == JournalLayout.headerSize else { throw .system(call: "pread", path: path, errno: errno) }
      let word = { (offset: Int) -> UInt64 in page.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) } }
      let magic = word(JournalLayout.magicOffset)
      if magic != 0 {
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
        if slots == wantedSlots || tail != released { return slots }
        carried = (tail, word(JournalLayout.pendingOverflowOffset), word(JournalLayout.overflowTotalOffset),
                   word(JournalLayout.uncommittedTotalOffset))
      }
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
    }
    // The magic goes last: a file cut short before it is simply laid out again.
    try writeAll(fd: fd, path: path, bytes: page, offset: 0)
    var magic = JournalLayout.magic
    let wrote = pwrite(fd, &magic, 8, off_t(JournalLayout.magicOffset))
    guard wrote == 8 else { throw .system(call: "pwrite", path: path, errno: errno) }
    return wantedSlots
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
