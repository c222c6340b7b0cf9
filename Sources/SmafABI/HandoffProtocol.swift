// SPDX-License-Identifier: MIT
/// The handoff channel's protocol (smaf_ext.h): 24-byte messages on an
/// AF_UNIX SOCK_SEQPACKET channel, a buffer's fd riding along as
/// SCM_RIGHTS, and JSON answers to queries after the header.
public enum HandoffProtocol {
    public static let version: UInt32 = 1
    public static let magic: UInt32 = 0x4641_4D53
    public static let messageSize = 24
    public static let maxPathBytes = 107  // sun_path minus its NUL
    public static let queryToken: Int32 = -1
    public static let queryInfo: UInt32 = 1
    public static let queryStatus: UInt32 = 2
    /// What smafd knows of one of the asker's buffers: `length` carries the
    /// fd number in the asking process.
    public static let queryBuffer: UInt32 = 3
    /// The live buffers the asker may see (all of them for root): `smafctl buffers`.
    public static let queryBuffers: UInt32 = 4
    /// The largest answer, header included.
    public static let queryMax = 65536
}

/// One message header: magic, protocol, token, flags, length. A buffer
/// message's token is the one CREATE returned (<= -2); the welcome's is
/// 0; a query and its answer carry `queryToken` and the kind in `flags`.
public struct HandoffMessage: Sendable, Equatable {
    public var token: Int32
    public var flags: UInt32
    public var length: UInt64

    public init(token: Int32, flags: UInt32 = 0, length: UInt64 = 0) {
        self.token = token
        self.flags = flags
        self.length = length
    }

    public static let welcome = HandoffMessage(token: 0)

    /// A query of `kind` with its argument.
    public static func query(_ kind: UInt32, argument: UInt64 = 0) -> HandoffMessage {
        HandoffMessage(token: HandoffProtocol.queryToken, flags: kind, length: argument)
    }

    public var isQuery: Bool { token == HandoffProtocol.queryToken }

    /// Decodes the header at the start of `raw`: nil if it is short or not
    /// this protocol's magic and version.
    public init?(decoding raw: UnsafeRawBufferPointer) {
        guard raw.count >= HandoffProtocol.messageSize, raw.field(0, as: UInt32.self) == HandoffProtocol.magic,
              raw.field(4, as: UInt32.self) == HandoffProtocol.version else { return nil }
        token = raw.field(8, as: Int32.self)
        flags = raw.field(12, as: UInt32.self)
        length = raw.field(16, as: UInt64.self)
    }

    public func encode(into out: UnsafeMutableRawBufferPointer) {
        out.setField(0, HandoffProtocol.magic)
        out.setField(4, HandoffProtocol.version)
        out.setField(8, token)
        out.setField(12, flags)
        out.setField(16, length)
    }

    public var encoded: [UInt8] {
        var b = [UInt8](repeating: 0, count: HandoffProtocol.messageSize)
        b.withUnsafeMutableBytes { encode(into: $0) }
        return b
    }
}

/// A question asked on a handoff channel, with who asked it.
public struct HandoffQuery: Sendable {
    public let kind: UInt32
    public let uid: UInt32
    public let pid: Int32
    /// The message's length field: the kind's argument.
    public let argument: UInt64

    public init(kind: UInt32, uid: UInt32, pid: Int32, argument: UInt64) {
        self.kind = kind
        self.uid = uid
        self.pid = pid
        self.argument = argument
    }
}
