// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A positive errno value as a caller of ioctl(2) sees it in `errno`.
///
/// Kept as a tiny typed wrapper (in the spirit of swift-system's `Errno`) so the
/// dispatcher cannot return a negative or made-up number by accident.
public struct SmafErrno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public static let EINVAL = SmafErrno(Glibc.EINVAL)
    public static let EFAULT = SmafErrno(Glibc.EFAULT)
    public static let ENOTCONN = SmafErrno(Glibc.ENOTCONN)
    public static let EBUSY = SmafErrno(Glibc.EBUSY)
    public static let ENOMEM = SmafErrno(Glibc.ENOMEM)
    public static let ENOSPC = SmafErrno(Glibc.ENOSPC)
    public static let EACCES = SmafErrno(Glibc.EACCES)
    public static let EPERM = SmafErrno(Glibc.EPERM)
    public static let EAGAIN = SmafErrno(Glibc.EAGAIN)
    public static let EMFILE = SmafErrno(Glibc.EMFILE)
    public static let EBADF = SmafErrno(Glibc.EBADF)
    public static let ENODEV = SmafErrno(Glibc.ENODEV)
    public static let E2BIG = SmafErrno(Glibc.E2BIG)
    public static let EOPNOTSUPP = SmafErrno(Glibc.EOPNOTSUPP)

    public var description: String {
        switch rawValue {
        case Glibc.EINVAL: return "EINVAL"
        case Glibc.EFAULT: return "EFAULT"
        case Glibc.ENOTCONN: return "ENOTCONN"
        case Glibc.EBUSY: return "EBUSY"
        case Glibc.ENOMEM: return "ENOMEM"
        case Glibc.ENOSPC: return "ENOSPC"
        case Glibc.EACCES: return "EACCES"
        case Glibc.EPERM: return "EPERM"
        case Glibc.EAGAIN: return "EAGAIN"
        case Glibc.EMFILE: return "EMFILE"
        case Glibc.EBADF: return "EBADF"
        case Glibc.ENODEV: return "ENODEV"
        case Glibc.E2BIG: return "E2BIG"
        case Glibc.EOPNOTSUPP: return "EOPNOTSUPP"
        default: return "errno \(rawValue)"
        }
    }
}
