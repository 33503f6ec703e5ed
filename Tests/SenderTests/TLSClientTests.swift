import Foundation
import Testing
import TradeTapPluginCore

@Suite(.serialized) struct TLSClientSpecification {
  let certificate: TestCertificate
  let stop = StopSignal()!

  init() throws { certificate = try TestCertificate() }

  private func open(port: UInt16, caFile: String?, serverName: String?) throws(SenderError) -> CollectorStream {
    let context = try TLSClientContext(caFile: caFile)
    return try CollectorStream.open(
      to: CollectorEndpoint(host: "127.0.0.1", port: port), tls: context, serverName: serverName,
      timeoutMilliseconds: 5_000, stop: stop)
  }

  private func exchange(_ stream: CollectorStream, _ line: String) throws -> String {
    try Array(line.utf8).withUnsafeBytes { try stream.write($0, timeoutMilliseconds: 5_000) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while !received.contains(UInt8(ascii: "\n")) {
      let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0, timeoutMilliseconds: 5_000) }
      if n == 0 { throw TestFailure("no answer within 5 s") }
      received += buffer[..<n]
    }
    return String(decoding: received, as: UTF8.self)
  }

  @Test func connectsToATLS13CollectorThatItsCAFileTrustsAndCarriesBytes() throws {
    let server = try OpenSSLServer(certificate: certificate, versionFlag: "-tls1_3")
    let stream = try open(port: server.port, caFile: certificate.certPath, serverName: "collector.test")
    #expect(try exchange(stream, "batch\n") == "hctab\n")
  }

  @Test func verifiesAnIPAddressServerNameAgainstTheCertificate() throws {
    let server = try OpenSSLServer(certificate: certificate, versionFlag: "-tls1_3")
    let stream = try open(port: server.port, caFile: certificate.certPath, serverName: nil)
    #expect(try exchange(stream, "ip\n") == "pi\n")
  }

  @Test func refusesACollectorThatOnlySpeaksTLS12() throws {
    let server = try OpenSSLServer(certificate: certificate, versionFlag: "-tls1_2")
    #expect {
      _ = try open(port: server.port, caFile: certificate.certPath, serverName: "collector.test")
    } throws: { error in
      guard case .tls(let reason) = error as? SenderError else { return false }
      return reason.contains("version") || reason.contains("handshake")
    }
  }

  @Test func refusesACertificateIssuedForAnotherName() throws {
    let server = try OpenSSLServer(certificate: certificate, versionFlag: "-tls1_3")
    #expect {
      _ = try open(port: server.port, caFile: certificate.certPath, serverName: "elsewhere.test")
    } throws: { error in
      guard case .tls(let reason) = error as? SenderError else { return false }
      return reason.contains("hostname mismatch")
    }
  }

  @Test func refusesACertificateThatTheCAFileDoesNotSign() throws {
    let server = try OpenSSLServer(certificate: certificate, versionFlag: "-tls1_3")
    let stranger = try TestCertificate()
    #expect {
      _ = try open(port: server.port, caFile: stranger.certPath, serverName: "collector.test")
    } throws: { error in
      guard case .tls(let reason) = error as? SenderError else { return false }
      return reason.contains("self-signed") || reason.contains("unable to get")
    }
  }

  @Test func aMissingCAFileIsAClearError() {
    #expect(throws: SenderError.self) { _ = try TLSClientContext(caFile: "/nonexistent/ca.pem") }
  }

  @Test func aRefusedConnectionIsReportedNotTrapped() throws {
    // A port that was just listening and now is not.
    let server = try OpenSSLServer(certificate: certificate, versionFlag: "-tls1_3")
    let port = server.port
    server.kill()
    #expect {
      _ = try open(port: port, caFile: certificate.certPath, serverName: "collector.test")
    } throws: { error in
      guard case .connect(_, let reason) = error as? SenderError else { return false }
      return reason.contains("refused")
    }
  }

  @Test func stopInterruptsAReadThatWouldOtherwiseWaitTenSeconds() throws {
    let server = try OpenSSLServer(certificate: certificate, versionFlag: "-tls1_3")
    let stream = try open(port: server.port, caFile: certificate.certPath, serverName: "collector.test")
    let signal = stop
    let raiser = Thread { usleep(100_000); signal.raise() }
    raiser.start()
    var buffer = [UInt8](repeating: 0, count: 64)
    #expect(throws: SenderError.stopped) {
      _ = try buffer.withUnsafeMutableBytes { try stream.read(into: $0, timeoutMilliseconds: 10_000) }
    }
  }
}
