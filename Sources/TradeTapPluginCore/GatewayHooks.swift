import TradeServerAPI
import TradeTapEvents

// The four ts_gateway_sink members: the same copy plus CAS into the journal as the
// server hooks (HookCapture), local to the .so, named `tradetap_hook_*` so the
// disassembly check walks them too.

@_cdecl("tradetap_hook_dealer_lock")
func hookDealerLock(_ context: UnsafeMutableRawPointer?, _ request: UnsafePointer<ts_request>?) {
  HookCapture.capture(context, kind: RecordKind.dealerLock.rawValue, family: .requests, record: UnsafeRawPointer(request), size: 288)
}
@_cdecl("tradetap_hook_dealer_answer")
func hookDealerAnswer(_ context: UnsafeMutableRawPointer?, _ confirm: UnsafePointer<ts_confirm>?) {
  HookCapture.capture(context, kind: RecordKind.dealerAnswer.rawValue, family: .requests, record: UnsafeRawPointer(confirm), size: 144)
}
@_cdecl("tradetap_hook_execution")
func hookExecution(_ context: UnsafeMutableRawPointer?, _ execution: UnsafePointer<ts_execution>?) {
  HookCapture.capture(context, kind: RecordKind.execution.rawValue, family: .executions, record: UnsafeRawPointer(execution), size: 384)
}
@_cdecl("tradetap_hook_execution_ack")
func hookExecutionAck(_ context: UnsafeMutableRawPointer?, _ serverId: UInt32, _ executionId: UInt64) {
  HookCapture.captureExecutionAck(context, kind: RecordKind.executionAck.rawValue, serverId: serverId, executionId: executionId)
}

/// The gateway sink the plugin subscribes, every member set, `context` pointing at
/// the instance's ``HookContext``.
func makeGatewaySink(context: UnsafeMutableRawPointer) -> ts_gateway_sink {
  var sink = ts_gateway_sink()
  sink.struct_size = UInt32(MemoryLayout<ts_gateway_sink>.size)
  sink.context = context
  sink.on_dealer_lock = hookDealerLock
  sink.on_dealer_answer = hookDealerAnswer
  sink.on_execution = hookExecution
  sink.on_execution_ack = hookExecutionAck
  return sink
}

/// The gateway record sizes the hooks hard-code must equal the header's.
func gatewayHookRecordSizesMatchHeader() -> Bool {
  MemoryLayout<ts_request>.size == 288 && MemoryLayout<ts_confirm>.size == 144
    && MemoryLayout<ts_execution>.size == 384 && RecordLayout.executionAckSize == 16
}

/// A gateway host seen through the server host's table, so the journal, the sender
/// and the log work unchanged: `log`, `time_msc` and `param_get` are the gateway's
/// own functions (the same C signatures), `info` names the gateway id as the
/// server id (the collector's source id), and the query functions are NULL: a
/// gateway holds no accounts, so the sender answers snapshot requests `notOffered`.
/// `subscribe` / `unsubscribe` are NULL too: the instance subscribes through the
/// gateway's own table.
struct GatewayHostTable {
  let api: UnsafeMutablePointer<ts_server_api>
  let info: UnsafeMutablePointer<ts_server_info>

  init(_ gateway: UnsafePointer<ts_gateway_api>) {
    let declared = Int(gateway.pointee.struct_size)
    func offered(_ end: Int) -> Bool { declared >= end }
    var identity = ts_server_info()
    identity.struct_size = UInt32(MemoryLayout<ts_server_info>.size)
    if offered(32), let source = gateway.pointee.info {
      var copy = ts_gateway_info()
      let size = min(max(Int(UnsafeRawPointer(source).loadUnaligned(as: UInt32.self)), 0), MemoryLayout<ts_gateway_info>.size)
      withUnsafeMutableBytes(of: &copy) { $0.baseAddress!.copyMemory(from: source, byteCount: size) }
      identity.server_id = copy.gateway_id
      identity.utc_offset_minutes = copy.utc_offset_minutes
      identity.name = copy.name
      identity.build = copy.build
    }
    identity.platform = 0  // neither MT4 nor MT5: the hello carries no server identity
    info = .allocate(capacity: 1)
    info.initialize(to: identity)
    var table = ts_server_api()
    table.struct_size = UInt32(MemoryLayout<ts_server_api>.size)
    table.api_version = gateway.pointee.api_version
    table.host = gateway.pointee.host
    table.info = UnsafePointer(info)
    if offered(40) { table.log = gateway.pointee.log }
    if offered(48) { table.time_msc = gateway.pointee.time_msc }
    if offered(56) { table.param_get = gateway.pointee.param_get }
    api = .allocate(capacity: 1)
    api.initialize(to: table)
  }

  func free() {
    api.deinitialize(count: 1)
    api.deallocate()
    info.deinitialize(count: 1)
    info.deallocate()
  }
}
