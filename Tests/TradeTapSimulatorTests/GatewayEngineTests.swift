import Foundation
import Testing
import TradeServerAPI
import TradeTapSimulator

/// The server side of gateway routing in the MT5 engine, the gateway's execution
/// store (append, reopen, torn tail) and group masks.
@Suite("Gateway: routed orders, execution store, group masks")
struct GatewayEngineTests {
  func routed(_ mode: MarginMode) throws -> MT5TradeServer {
    let server = try mt5Server(mode)
    server.routesToGateway = { _ in true }
    return server
  }

  @Test(arguments: [MarginMode.hedging, .netting])
  func aRoutedOrderWaitsPlacedAndEachFillIsADealWithTheFillsExternalID(mode: MarginMode) throws {
    let server = try routed(mode)
    let deals = server.deals.count
    let ticket = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("0.30"))
    #expect(server.deals.count == deals && server.routedOrders[ticket]?.state == .placed)
    #expect(server.newlyRouted.map(\.order) == [ticket])
    let first = server.fillRoutedOrder(ticket, volumeExt: lots("0.10"), pricePoints: eurusd("1.10010"), externalID: "LP-1")
    #expect(first != nil && server.routedOrders[ticket]?.state == .partial)
    let second = server.fillRoutedOrder(ticket, volumeExt: lots("0.20"), pricePoints: eurusd("1.10012"), externalID: "LP-2")
    #expect(second != nil && server.routedOrders[ticket] == nil)
    #expect(server.deals.suffix(2).map(\.externalID) == ["LP-1", "LP-2"])
    #expect(server.deals.suffix(2).map(\.volumeExt) == [lots("0.10"), lots("0.20")])
    #expect(server.positionsByLogin[7001]?.count == 1 && server.positions.values.first?.volumeExt == lots("0.30"))
    // A fill for an order that no longer waits books nothing.
    #expect(server.fillRoutedOrder(ticket, volumeExt: lots("0.10"), pricePoints: eurusd("1.1"), externalID: "LP-3") == nil)
  }

  @Test func aRejectCancelsTheOrderAndAPendingCloseBlocksASecondClose() throws {
    let server = try routed(.hedging)
    let open = try server.marketOrder(login: 7001, symbol: "EURUSD", buy: true, volumeExt: lots("0.10"))
    server.fillRoutedOrder(open, volumeExt: lots("0.10"), pricePoints: eurusd("1.10000"), externalID: "LP-1")
    let close = try server.closePosition(open)
    #expect(server.routedPositions.contains(open))
    #expect(throws: TradeRejection.self) { try server.closePosition(open) }
    server.events.removeAll()
    #expect(server.rejectRoutedOrder(close))
    guard case .orderDelete(let order) = server.events.last else { Issue.record("no order delete"); return }
    #expect(order.state == .rejected && server.routedOrders.isEmpty && server.routedPositions.isEmpty)
    #expect(server.positions[open] != nil)
  }

  @Test func theStoreKeepsWholeRecordsAndCutsATornTail() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gw-store-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    do {
      let store = try ExecutionStore(directory: folder)
      for id in 1...3 {
        var e = ts_execution()
        e.struct_size = UInt32(MemoryLayout<ts_execution>.size)
        e.execution_id = UInt64(id)
        e.server_id = 1
        e.request_id = 9
        e.action = UInt32(TS_TE_ORDER_FILL)
        e.deal_volume_remaining_ext = UInt64(3 - id)
        try store.append(e)
      }
      store.sync()
      var stale = ts_execution()
      stale.execution_id = 2
      #expect(throws: (any Error).self) { try store.append(stale) }
    }
    // A torn write: half a record at the end.
    let handle = FileHandle(forWritingAtPath: folder + "/executions.dat")!
    handle.seekToEndOfFile()
    handle.write(Data(repeating: 0x5A, count: 200))
    try handle.close()
    let reopened = try ExecutionStore(directory: folder)
    #expect(reopened.lastID == 3 && reopened.count == 3 && reopened.truncatedBytes == 200)
    #expect(reopened.after(1, server: 1).map(\.execution_id) == [2, 3] && reopened.after(1, server: 2).isEmpty)
    #expect(reopened.progress(server: 1, request: 9)?.final == true)
  }

  @Test func groupMasks() {
    let mask = GroupMask("real\\*,!real\\netting")
    #expect(mask.matches("real\\hedging") && !mask.matches("real\\netting") && !mask.matches("demo\\hedging"))
    #expect(GroupMask("*").matches("anything") && !GroupMask("").matches("real"))
  }
}
