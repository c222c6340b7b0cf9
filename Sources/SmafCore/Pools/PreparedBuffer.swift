// SPDX-License-Identifier: MIT

/// A buffer a pool made ahead and hands out once (MemfdPool, ExportPool):
/// smafd's own fd of it, and the identity it is already watched under.
public struct PreparedBuffer: ~Copyable {
    public let fd: OwnedFD
    public let identity: FileIdentity
}
