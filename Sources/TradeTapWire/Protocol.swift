// Wire protocol: see docs/protocol.md.
