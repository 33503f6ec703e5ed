import Foundation
import Testing
import TradeTapPluginCore

@Suite struct SecretFileSpecification {
  private func write(_ text: String, mode: Int) throws -> String {
    let path = try makeTemporaryFolder() + "/secret"
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
    return path
  }

  @Test func readsTheFirstNonCommentLineTrimmed() throws {
    let path = try write("# server 7\n\n  s3cr3t-value \r\nignored\n", mode: 0o600)
    #expect(try SecretFile.read(path: path) == Array("s3cr3t-value".utf8))
  }

  @Test func refusesAFileThatGroupOrOthersCanRead() throws {
    for mode in [0o640, 0o604, 0o660, 0o644] {
      let path = try write("secret\n", mode: mode)
      #expect {
        _ = try SecretFile.read(path: path)
      } throws: { error in
        guard case .secretFile(_, let reason) = error as? SenderError else { return false }
        return reason.contains("chmod 600")
      }
    }
  }

  @Test func acceptsOwnerOnlyModes() throws {
    for mode in [0o600, 0o400] {
      #expect(try SecretFile.read(path: try write("k\n", mode: mode)) == [UInt8(ascii: "k")])
    }
  }

  @Test func refusesAFileWithoutASecret() throws {
    let path = try write("# nothing here\n\n", mode: 0o600)
    #expect(throws: SenderError.self) { _ = try SecretFile.read(path: path) }
  }

  @Test func refusesASymbolicLink() throws {
    let target = try write("secret\n", mode: 0o600)
    let link = target + ".link"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
    #expect(throws: SenderError.self) { _ = try SecretFile.read(path: link) }
  }

  @Test func reportsAMissingFile() {
    #expect(throws: SenderError.self) { _ = try SecretFile.read(path: "/nonexistent/secret") }
  }
}
