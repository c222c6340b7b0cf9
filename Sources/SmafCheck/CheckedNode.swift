// SPDX-License-Identifier: MIT
import SmafABI


#if canImport(Glibc)
import Glibc
#endif

/// What the v10 check needs from a node: ioctls as a caller issues them and
/// buffers as the node hands them out. smafctl implements it on a real node;
/// the tests on an in-process smafd whose answers they can corrupt, so every
/// row of the check is shown to fail on a deviating device.
public protocol CheckedNode {
    /// An ioctl on a struct of `bytes.count` bytes: 0 or the errno; `bytes`
    /// holds afterwards what the caller's struct holds.
    func ioctl(_ request: UInt32, _ bytes: inout [UInt8]) -> Int32
    /// The same request with a NULL argument pointer: 0 or the errno.
    func ioctlWithNullArgument(_ request: UInt32) -> Int32
    /// A new buffer as the node delivers it (fd, 0) or (-1, errno).
    func create(length: UInt64, flags: UInt32) -> (fd: Int32, errno: Int32)
    /// How create() gets its fd, shown in the row's name.
    var createRoute: String { get }
    /// The older generations the node says it serves (v10 only for a driver).
    var servedGenerations: AbiGenerations { get }
}

/// One row of the check: it passes when what the node did is what the spec says.
public struct CheckResult: Sendable {
    public let check: String
    public let expected: String
    public let got: String
    public var passed: Bool { expected == got }
    public init(check: String, expected: String, got: String) {
        self.check = check
        self.expected = expected
        self.got = got
    }
}

public func errnoName(_ e: Int32) -> String {
    switch e {
    case 0: return "success"
    case EINVAL: return "EINVAL"
    case EFAULT: return "EFAULT"
    case ENOTCONN: return "ENOTCONN"
    case ENOTTY: return "ENOTTY"
    case EBADF: return "EBADF"
    case EACCES: return "EACCES"
    case EPERM: return "EPERM"
    case EBUSY: return "EBUSY"
    case ENOMEM: return "ENOMEM"
    case ENOSPC: return "ENOSPC"
    case EAGAIN: return "EAGAIN"
    case ENOENT: return "ENOENT"
    case ETIMEDOUT: return "ETIMEDOUT"
    case EPROTO: return "EPROTO"
    case EMFILE: return "EMFILE"
    default: return "errno \(e)"
    }
}

/// A CREATE of an older generation's layout `r`, well-formed, so a node
/// that serves it when it should not is seen doing so.
public func legacyCreateBytes(_ r: RequestDescriptor, length: UInt64, flags: UInt32, name: String = "") -> [UInt8] {
    var b = [UInt8](repeating: 0, count: r.size)
    guard case .create(let c) = r.layout else { return b }
    let len = c.length, flagsAt = c.flags, nameAt = c.name
    b.withUnsafeMutableBytes { raw in
        if len.width == 8 { raw.storeBytes(of: length, toByteOffset: len.offset, as: UInt64.self) }
        else { raw.storeBytes(of: UInt32(truncatingIfNeeded: length), toByteOffset: len.offset, as: UInt32.self) }
        raw.storeBytes(of: flags, toByteOffset: flagsAt, as: UInt32.self)
    }
    if let nameAt { for (i, c) in name.utf8.prefix(63).enumerated() { b[nameAt + i] = c } }
    return b
}
