import CTradeTapShims
import Glibc

/// Keeps the slots just ahead of the producers' tail mapped writable, so a hook
/// never takes the page fault of a slot's first write.
///
/// A writable page of a `MAP_SHARED` file mapping is write-protected again each time
/// writeback cleans it, and the next write takes a fault (`page_mkwrite`); so a
/// prefault at open does not last. A thread (`tt-prefault`) therefore write-faults,
/// every millisecond while the tail moves (10 ms while it stands still), the slots
/// entering the window of ``windowBytes`` ahead of the tail, once per lap of the ring.
/// It never prepares the same slots twice in a lap: a write fault dirties the page,
/// and re-preparing an idle window every so often made an idle plugin write its
/// 64 MB window back to disk every 30 s, forever (2.3 MB/s measured). The window is
/// small (32 MB: 0.6 s of a 100k events/s stream) so its pages are still dirty when
/// the hooks reach them, and a page costs one writeback per lap, as without prefault.
/// `MADV_POPULATE_WRITE` changes no byte, so it cannot race a producer's slot
/// writes nor a record not yet released. It runs on its own thread, never on a hook.
final class JournalPrefault: @unchecked Sendable {
  /// Slots kept writable ahead of the tail (or the whole journal if smaller).
  static let windowBytes = 32 << 20
  static let tickNanoseconds: Int64 = 1_000_000
  static let idleTickNanoseconds: Int64 = 10_000_000

  private let header: UnsafeMutableRawPointer
  private let slots: UnsafeMutableRawPointer
  private let slotCount: UInt64
  private let windowSlots: UInt64
  /// 1 asks the thread to stop (a futex word, so close does not wait out a tick).
  private let stopWord: UnsafeMutablePointer<UInt32>
  private var thread: pthread_t?
  /// The sequence below which the window was last made writable.
  private var preparedThrough: UInt64 = 0

  init(header: UnsafeMutableRawPointer, slots: UnsafeMutableRawPointer, slotCount: UInt64) {
    self.header = header
    self.slots = slots
    self.slotCount = slotCount
    self.windowSlots = min(slotCount, UInt64(Self.windowBytes / JournalLayout.slotSize))
    stopWord = .allocate(capacity: 1)
    stopWord.initialize(to: 0)
  }

  deinit { stopWord.deallocate() }

  /// Makes the window ahead of the tail writable. `full`: all of it; else only the
  /// part beyond what an earlier call prepared. Called by the thread, and once at
  /// open (the whole window, so a startup is bounded by the window, not the journal).
  /// Only the thread calls this after open (it owns `preparedThrough`).
  func prepare(full: Bool) {
    let tail = tt_load_acquire_u64(header + JournalLayout.tailOffset)
    let end = tail &+ windowSlots
    let start = full ? tail : max(tail, preparedThrough)
    if end > start { populate(from: start, count: end &- start) }
    preparedThrough = max(preparedThrough, end)
  }

  /// The whole window from the tail now, from any thread (no state).
  func prepareWindow() {
    populate(from: tt_load_acquire_u64(header + JournalLayout.tailOffset), count: windowSlots)
  }

  /// Write-faults the slots of sequences [from, from + count) (count ≤ slotCount), in
  /// one or two ranges (the ring wraps).
  private func populate(from sequence: UInt64, count: UInt64) {
    guard count > 0 else { return }
    let first = sequence % slotCount
    let firstCount = min(count, slotCount - first)
    populateSlots(first, firstCount)
    if firstCount < count { populateSlots(0, count - firstCount) }
  }

  private func populateSlots(_ index: UInt64, _ count: UInt64) {
    let page = UInt(4096)
    let begin = UInt(bitPattern: slots + Int(index) * JournalLayout.slotSize) & ~(page - 1)
    let end = UInt(bitPattern: slots + Int(index + count) * JournalLayout.slotSize)
    _ = tt_populate_write(UnsafeMutableRawPointer(bitPattern: begin), UInt64(end - begin))
  }

  func start() {
    // Without the thread the hooks still work; only the faults come back.
    if case .success(let handle) = PluginThread.start(name: "tt-prefault", { self.run() }) { thread = handle }
  }

  private func run() {
    var lastTail = tt_load_acquire_u64(header + JournalLayout.tailOffset)
    while tt_load_acquire_u32(stopWord) == 0 {
      prepare(full: false)
      // Idle hooks: a 10 ms tick (each wake costs ~20 µs here: 2 % of a core at 1 ms).
      let tail = tt_load_acquire_u64(header + JournalLayout.tailOffset)
      let sleep = tail == lastTail ? Self.idleTickNanoseconds : Self.tickNanoseconds
      lastTail = tail
      _ = tt_futex_wait(stopWord, 0, sleep)
    }
  }

  /// Stops and joins the thread: call before the mapping goes away.
  func stop() {
    guard let handle = thread else { return }
    tt_store_release_u32(stopWord, 1)
    _ = tt_futex_wake(stopWord, 1)
    pthread_join(handle, nil)
    thread = nil
  }
}
