import TradeServerAPI

@_cdecl("ts_plugin_about")
public func ts_plugin_about(_ info: UnsafeMutablePointer<ts_plugin_info>?) -> ts_result {
  guard let info else { return TS_ERR_INVALID_ARGUMENT }
  _ = info
  return TS_OK
}
