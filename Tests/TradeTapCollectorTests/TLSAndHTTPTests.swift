import Foundation
import NIOSSL
import Testing
import TradeTapCollector
import TradeTapWire

@Suite("Collector: TLS 1.3 on the wire, a token on HTTP", .serialized)
struct TLSAndHTTPTests {
  @Test func aPluginTalksToACollectorOverTLS() async throws {
    let folder = try Harness.folder()
    let tls = try ThrowawayCertificate.make(in: folder)
    try await withCollector(tls: tls, folder: folder) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port, tlsCAFile: tls.certificatePath)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...300, serverId: Harness.serverId)
      #expect(try await plugin.awaitAck(through: 300).throughSequence == 300)
      #expect(try harness.count("events") == 300)
      await plugin.close()
    }
  }

  @Test func aPlaintextPeerCannotTalkToATLSCollector() async throws {
    let folder = try Harness.folder()
    let tls = try ThrowawayCertificate.make(in: folder)
    try await withCollector(tls: tls, folder: folder) { harness in
      let hello = FrameEncoder().encode(.hello(Hello(serverId: Harness.serverId, clientNonce: .init(repeating: 1, count: 32), software: "plain")))
      let reply = try await RawPeer.exchange(port: harness.port, hello)
      // Whatever comes back (a TLS alert at most) is not a protocol frame.
      var decoder = FrameDecoder()
      decoder.append(reply)
      #expect((try? decoder.nextFrame()) == nil)
      #expect(!reply.starts(with: FrameHeader.magic))
      #expect(try harness.count("servers") == 0)
    }
  }

  @Test func aTLS12ClientIsRefused() async throws {
    let folder = try Harness.folder()
    let tls = try ThrowawayCertificate.make(in: folder)
    try await withCollector(tls: tls, folder: folder) { harness in
      let plugin = try await TestPlugin.connect(port: harness.port, tlsCAFile: tls.certificatePath, maximumTLSVersion: .tlsv12)
      await #expect(throws: (any Error).self) {
        _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      }
      #expect(try harness.count("servers") == 0)
      await plugin.close()
    }
  }

  @Test func healthzAndMetricsNeedTheToken() async throws {
    try await withCollector { harness in
      let plugin = try await TestPlugin.connect(port: harness.port)
      _ = try await plugin.handshake(serverId: Harness.serverId, secret: Harness.secret)
      try await plugin.sendEvents(1...42, serverId: Harness.serverId)
      _ = try await plugin.awaitAck(through: 42)

      #expect(try await RawPeer.httpGet(port: harness.httpPort, path: "/healthz").0 == 401)
      let (healthStatus, health) = try await RawPeer.httpGet(port: harness.httpPort, path: "/healthz", token: Harness.token)
      #expect(healthStatus == 200)
      #expect(health == "ok\n")
      #expect(try await RawPeer.httpGet(port: harness.httpPort, path: "/metrics").0 == 401)
      #expect(try await RawPeer.httpGet(port: harness.httpPort, path: "/metrics", token: "wrong").0 == 401)
      let (status, body) = try await RawPeer.httpGet(port: harness.httpPort, path: "/metrics", token: Harness.token)
      #expect(status == 200)
      #expect(body.contains("tradetap_events_received_total 42\n"))
      #expect(body.contains("tradetap_events_committed_total 42\n"))
      #expect(body.contains("tradetap_events_acked_total 42\n"))
      #expect(body.contains("tradetap_server_last_seq{server_id=\"7\"} 42.0\n"))
      await plugin.close()
    }
  }

  @Test func aSecretsFileOthersCanReadIsRefused() throws {
    let folder = try Harness.folder()
    let path = folder + "/secrets"
    try "# servers\n7 s3cret\n".write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o644)
    #expect(throws: CollectorError.self) { try SecretsFile.load(path: path) }
    chmod(path, 0o600)
    #expect(try SecretsFile.load(path: path) == [7: Array("s3cret".utf8)])
  }

  @Test func aMalformedSecretsLineIsRefusedWithItsLineNumber() {
    #expect(throws: CollectorError.secretsFile(path: "secrets", reason: "line 2: expected '<server_id> <secret>'")) {
      try SecretsFile.parse("7 a\nnot-a-number secret\n")
    }
  }
}
