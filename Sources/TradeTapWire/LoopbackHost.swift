#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Whether a host, as an operator wrote it in an address (`Collector`, `--listen`),
/// stays on this machine: `localhost`, an IPv4 address in 127.0.0.0/8, `::1`, or
/// `::ffff:127.x.y.z`. Plaintext (`TLS=off`, `--no-tls`) is allowed only there unless
/// the operator says otherwise (SECURITY.md, "Plaintext only on loopback").
///
/// Any other name is not loopback, even one that resolves there today: what a name
/// resolves to can change under the plugin, an IP literal cannot.
public enum LoopbackHost {
  public static func contains(_ host: String) -> Bool {
    let lowered = host.lowercased()
    if lowered == "localhost" || lowered == "localhost." { return true }
    var v4 = in_addr()
    if inet_pton(AF_INET, host, &v4) == 1 {
      return UInt32(bigEndian: v4.s_addr) >> 24 == 127
    }
    var v6 = in6_addr()
    guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
    let bytes = withUnsafeBytes(of: &v6) { Array($0) }
    if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }  // ::1
    let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
    return mapped && bytes[12] == 127  // ::ffff:127.0.0.0/104
  }
}
