import TradeServerAPI
import TradeTapPluginCore

// The seven dynamic symbols of libTradeTapPlugin.so: the four ts_plugin_* of the
// server model and the three ts_gateway_* of the gateway model. Each is a thin, non-throwing
// wrapper: check pointers, call the core, map errors to ts_result codes. Swift
// objects cross the boundary only as the opaque `ts_plugin` pointer (a retained
// PluginInstance, released by cleanup).

@_cdecl("ts_plugin_about")
public func ts_plugin_about(_ info: UnsafeMutablePointer<ts_plugin_info>?) -> ts_result {
  guard let info else { return TS_ERR_INVALID_ARGUMENT }
  PluginAbout.fill(UnsafeMutableRawPointer(info))
  return TS_OK
}

@_cdecl("ts_plugin_startup")
public func ts_plugin_startup(
  _ api: UnsafePointer<ts_server_api>?, _ plugin: UnsafeMutablePointer<OpaquePointer?>?
) -> ts_result {
  guard let api, let plugin else { return TS_ERR_INVALID_ARGUMENT }
  plugin.pointee = nil
  Sender.install()  // the instance starts the sender thread after subscribing
  do {
    let instance = try PluginInstance.startup(api: api)
    plugin.pointee = OpaquePointer(Unmanaged.passRetained(instance).toOpaque())
    return TS_OK
  } catch {
    return error.result
  }
}

@_cdecl("ts_plugin_cleanup")
public func ts_plugin_cleanup(_ plugin: OpaquePointer?) {
  guard let plugin else { return }
  let instance = Unmanaged<PluginInstance>.fromOpaque(UnsafeRawPointer(plugin)).takeRetainedValue()
  instance.cleanup()
}

@_cdecl("ts_gateway_about")
public func ts_gateway_about(_ info: UnsafeMutablePointer<ts_plugin_info>?) -> ts_result {
  guard let info else { return TS_ERR_INVALID_ARGUMENT }
  PluginAbout.fill(UnsafeMutableRawPointer(info), gateway: true)
  return TS_OK
}

@_cdecl("ts_gateway_startup")
public func ts_gateway_startup(
  _ api: UnsafePointer<ts_gateway_api>?, _ plugin: UnsafeMutablePointer<OpaquePointer?>?
) -> ts_result {
  guard let api, let plugin else { return TS_ERR_INVALID_ARGUMENT }
  plugin.pointee = nil
  Sender.install()
  do {
    let instance = try PluginInstance.startupGateway(api: api)
    plugin.pointee = OpaquePointer(Unmanaged.passRetained(instance).toOpaque())
    return TS_OK
  } catch {
    return error.result
  }
}

/// The same instance type as the server's: cleanup is one function for both.
@_cdecl("ts_gateway_cleanup")
public func ts_gateway_cleanup(_ plugin: OpaquePointer?) {
  ts_plugin_cleanup(plugin)
}

@_cdecl("ts_plugin_config_set")
public func ts_plugin_config_set(
  _ plugin: OpaquePointer?, _ params: UnsafePointer<ts_param>?, _ count: UInt32
) -> ts_result {
  guard let plugin else { return TS_ERR_INVALID_ARGUMENT }
  guard params != nil || count == 0 else { return TS_ERR_INVALID_ARGUMENT }
  guard count <= 4096 else { return TS_ERR_INVALID_ARGUMENT }
  let instance = Unmanaged<PluginInstance>.fromOpaque(UnsafeRawPointer(plugin)).takeUnretainedValue()
  var values: [String: String] = [:]
  if let params {
    for index in 0..<Int(count) {
      var param = params[index]
      let name = withUnsafeBytes(of: &param.name) { PluginAbout.fixedText($0) }
      let value = withUnsafeBytes(of: &param.value) { PluginAbout.fixedText($0) }
      if !name.isEmpty { values[name] = value }
    }
  }
  return instance.applyConfiguration(values)
}
