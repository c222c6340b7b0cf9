// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor smafd owns: closed exactly once, when the owner goes
/// away, on every path. Not copyable, so it cannot be closed twice; `take()`
/// hands the number on to a new owner (another OwnedFD, or the kernel
/// through a close-on-send) without closing it.
public struct OwnedFD: ~Copyable, Sendable {
    public let raw: Int32

    public init(_ raw: Int32) { self.raw = raw }

    /// Gives up ownership: the caller closes the returned number.
    public consuming func take() -> Int32 {
        let fd = raw
        discard self
        return fd
    }

    /// open(2) with O_CLOEXEC; nil (errno set) if it fails.
    public static func open(_ path: String, _ flags: Int32) -> OwnedFD? {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        return fd >= 0 ? OwnedFD(fd) : nil
    }

    deinit { close(raw) }
}
