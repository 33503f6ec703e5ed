import Testing
import TradeTapWire

func hex(_ bytes: [UInt8]) -> String {
  let digits = Array("0123456789abcdef")
  return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}

func bytes(hex: String) -> [UInt8] {
  let chars = Array(hex.filter { !$0.isWhitespace }.utf8)
  func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
  return stride(from: 0, to: chars.count - 1, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
}

@Suite struct SHA256Specification {
  // FIPS 180-2 / NIST CAVS examples.
  @Test func hashesTheNISTExamples() {
    #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func hashesTheSameInPiecesAsAtOnce() {
    let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
    var h = SHA256()
    h.update(message[..<63]); h.update(message[63..<64]); h.update(message[64..<500]); h.update(message[500...])
    #expect(h.finalize() == SHA256.hash(message))
  }
}

@Suite struct HMACSHA256Specification {
  // RFC 4231 test cases 1, 2, 3, 4, 6, 7.
  @Test(arguments: [
    ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    ((1...25).map { UInt8($0) }, [UInt8](repeating: 0xcd, count: 50),
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ([UInt8](repeating: 0xaa, count: 131),
     Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
  ])
  func matchesRFC4231(key: [UInt8], data: [UInt8], expected: String) {
    #expect(hex(HMACSHA256.authenticationCode(for: data, key: key)) == expected)
  }

  @Test func comparesInConstantTimeButCorrectly() {
    #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
    #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
    #expect(!constantTimeEqual([1, 2, 3], [1, 2]))
    #expect(constantTimeEqual([], []))
  }
}

@Suite struct CRC32CSpecification {
  // RFC 3720 appendix B.4 and the common "123456789" check value.
  @Test func matchesTheStandardCheckValues() {
    #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    #expect(CRC32C.checksum([UInt8]()) == 0)
  }

  @Test func agreesWithTheBitwiseDefinitionAtEveryLength() {
    func bitwise(_ data: [UInt8]) -> UInt32 {
      var crc: UInt32 = 0xFFFF_FFFF
      for b in data {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
      }
      return ~crc
    }
    let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
    for n in 0...data.count { #expect(CRC32C.checksum(Array(data[..<n])) == bitwise(Array(data[..<n]))) }
  }
}
