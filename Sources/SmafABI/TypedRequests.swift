// SPDX-License-Identifier: MIT
/// CREATE's arguments, whichever generation's struct they came in.
public struct CreateArguments: Sendable, Equatable {
    public var version: UInt64 = 0
    public var length: UInt64 = 0
    public var flags: UInt32 = 0
    /// All zero for a generation without a name (v2): no allocator named.
    public var name = FixedBytes<64>()
    public init() {}
}

/// GET_SECURE_FLAG's and SET_SECURE_FLAG's arguments.
public struct SecureFlagArguments: Sendable, Equatable {
    public var version: UInt64 = 0
    public var fd: Int32 = 0
    public var secure: UInt32 = 0
    public init() {}
}

/// GET_INFO's arguments.
public struct InfoArguments: Sendable, Equatable {
    public var version: UInt64 = 0
    public var index: UInt32 = 0
    public init() {}
}

/// The device fds an extension request names (at most `maxDevices`),
/// inline so decoding stays off the heap.
public struct DeviceFDs: Sendable, Equatable {
    public private(set) var count = 0
    private var storage = InlineArray<16, Int32>(repeating: -1)
    public init() {}
    public init(_ fds: [Int32]) {
        for fd in fds.prefix(SmafExtensionRequest.maxDevices) { append(fd) }
    }
    mutating func append(_ fd: Int32) {
        storage[count] = fd
        count += 1
    }
    public subscript(i: Int) -> Int32 { storage[i] }
    public var all: [Int32] { (0..<count).map { storage[$0] } }
    public static func == (a: Self, b: Self) -> Bool { a.all == b.all }
}

/// A request decoded once from its struct: what the operation gets.
public enum SmafCall: Sendable, Equatable {
    case create(CreateArguments)
    case getSecureFlag(SecureFlagArguments)
    case setSecureFlag(SecureFlagArguments)
    case getInfo(InfoArguments)
    case selectByName(fd: Int32, name: FixedBytes<64>)
    case createFor(CreateArguments, devices: DeviceFDs)
    /// Which allocators could serve `length` bytes for the devices.
    case devices(length: UInt64, devices: DeviceFDs)
    case connect(sock: Int32)
    case handoff
    case status
}

/// SMAF_IOC_EXT_DEVICES' answer.
public struct DevicesAnswer: Sendable, Equatable {
    public var needs: UInt32 = 0
    public var dmaMaskBits: UInt32 = 0
    public var align: UInt64 = 0
    public var allocators: UInt64 = 0
    public var sources: UInt32 = 0
    public init() {}
}

/// SMAF_IOC_EXT_STATUS' answer.
public struct StatusAnswer: Sendable, Equatable {
    public var liveBuffers: UInt64 = 0
    public var liveBytes: UInt64 = 0
    public var channels: UInt32 = 0
    public var secureBuffers: UInt32 = 0
    public var createdTotal: UInt64 = 0
    /// Buffers the pools hold ready (smafd's own fds).
    public var readyAhead: UInt64 = 0
    public init() {}
}

/// What an operation answers; encoded once into the caller's struct.
public enum SmafReply: Sendable, Equatable {
    /// The buffer's token (it travels on the handoff channel).
    case created(token: Int32)
    case secureFlag(UInt32)
    case info(count: UInt32, name: FixedBytes<64>)
    /// A v2 buffer that moved to another allocator: its new token; nil when it stayed.
    case selected(token: Int32?)
    case devices(DevicesAnswer)
    case connected(protocolVersion: UInt32)
    case handoffSocket(protocolVersion: UInt32, path: String)
    case status(StatusAnswer)
    /// Nothing is copied back (SET_SECURE_FLAG, as in the driver).
    case nothing
}

/// Why a struct could not be decoded: the errno and the reason to log.
public struct DecodeRefusal: Error, Sendable, Equatable {
    public let errno: SmafErrno
    public let reason: String
    public init(_ errno: SmafErrno, _ reason: String) {
        self.errno = errno
        self.reason = reason
    }
}
