import Foundation
import Testing

/// The hooks run on the host's threads: no reference counting and no allocation,
/// proved on the shipped machine code.
@Suite("Hook machine code")
struct HookDisassemblyTests {
  static let hooks = [
    "deal_add", "deal_update", "deal_delete", "order_add", "order_update", "order_delete",
    "position_add", "position_update", "position_delete", "trade_add", "trade_update",
    "user_add", "user_update", "user_delete",
    // The gateway sink (issue 11): the same guarantees, proved the same way.
    "dealer_lock", "dealer_answer", "execution", "execution_ack",
  ].map { "tradetap_hook_" + $0 }

  static let forbidden = [
    "swift_retain", "swift_release", "swift_allocObject", "swift_bridgeObjectRetain",
    "swift_bridgeObjectRelease", "swift_unknownObjectRetain", "swift_unknownObjectRelease", "malloc",
    "pthread_mutex_lock", "swift_once",
  ]

  @Test func hooksAndEverythingTheyCallDoNoReferenceCountingOrAllocation() throws {
    let symbols = try run("/usr/bin/env", ["nm", Artifacts.plugin]).stdout
    let local = Set(symbols.split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      return fields.count == 3 ? String(fields[2]) : nil
    })
    for hook in Self.hooks { try #require(local.contains(hook), "\(hook) not in the symbol table") }

    // Walk the call graph from the hooks through every function inside the .so.
    var pending = Self.hooks
    var visited = Set<String>()
    var external = Set<String>()
    while let function = pending.popLast() {
      guard visited.insert(function).inserted else { continue }
      let listing = try run("/usr/bin/env", ["objdump", "-d", "--no-show-raw-insn", "--disassemble=\(function)", Artifacts.plugin]).stdout
      try #require(listing.contains("<\(function)>:"), "cannot disassemble \(function)")
      for line in listing.split(separator: "\n") where line.contains("call") || line.contains("jmp") {
        // An indirect call could reach anything: the hook path has none.
        if line.contains("call   *") || line.contains("jmp    *") {
          Issue.record("indirect call in \(function): \(line)")
        }
        guard let open = line.lastIndex(of: "<"), let close = line.lastIndex(of: ">"), open < close else { continue }
        var target = String(line[line.index(after: open)..<close])
        if let plus = target.firstIndex(of: "+") { target = String(target[..<plus]) }
        if target == function { continue }
        if target.hasSuffix("@plt") {
          external.insert(String(target.dropLast(4)))
        } else if local.contains(target) {
          pending.append(target)
        }
      }
    }
    for name in visited.union(external) {
      #expect(!Self.forbidden.contains { name.contains($0) }, "the hook path reaches \(name)")
    }
    // What the hooks may call outside the .so: the copy, the zero-fill and the wake of a
    // parked sender, which is `syscall(SYS_write)` on the journal's eventfd (it was a
    // futex wake until the sender began to poll the socket and the journal together).
    #expect(external.isSubset(of: ["memcpy", "memset", "syscall"]), "\(external)")
  }
}
