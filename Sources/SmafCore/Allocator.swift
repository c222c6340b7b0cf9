#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// A device that will use a buffer, as far as an allocator cares (spec
/// §3.15/§3.18: CMA matched on the device's coherent DMA mask).
public struct DeviceConstraint: Sendable, Equatable {
    public var name: String
    public var coherentDMAMask: UInt64
    public init(name: String, coherentDMAMask: UInt64) {
        self.name = name
        self.coherentDMAMask = coherentDMAMask
    }
}

/// An allocator plug-in (spec §3.15): a name CREATE can ask for, a ranking
/// that orders the list GET_INFO enumerates (index 0 = preferred), a match
/// rule over the devices that will use a buffer, and the allocation itself.
public protocol Allocator: Sendable {
    /// Printable ASCII, 1...63 bytes (the name must fit `name[64]` with its NUL).
    var name: String { get }
    /// Bigger is preferred.
    var ranking: Int32 { get }
    /// What really backs the memory, for operators (`memfd (shmem)`, ...).
    var backing: String { get }
    /// Can this allocator serve all of these devices?
    func matches(_ devices: [DeviceConstraint]) -> Bool
    /// A new read-write file of exactly `length` bytes (already page-rounded),
    /// zero-filled, owned by the caller. Errors are the errno CREATE returns.
    func allocate(length: UInt64) throws(SmafErrno) -> Int32
    /// True if its buffers are plain sealed memfds, so a memfd prepared ahead
    /// of time (MemfdPool) can be sized and sealed instead of allocate().
    var usesPlainMemfd: Bool { get }
}

extension Allocator {
    public var usesPlainMemfd: Bool { false }
}

/// `smaf-memfd`: buffers are memfds sealed against shrinking and growing,
/// whose pages shmem commits only when first touched, which is SMAF's
/// deferred allocation done by the kernel. It serves any device set.
public struct MemfdAllocator: Allocator {
    public let name = "smaf-memfd"
    public let ranking: Int32 = 0
    public let backing = "memfd (shmem, size sealed, pages committed on first touch)"
    public init() {}

    public func matches(_ devices: [DeviceConstraint]) -> Bool { true }
    public var usesPlainMemfd: Bool { true }

    public func allocate(length: UInt64) throws(SmafErrno) -> Int32 {
        let fd = smaf_sys_memfd(smafBufferMemfdName)
        guard fd >= 0 else { throw Self.allocationErrno(errno) }
        do { try Self.sizeAndSeal(fd, length: length) } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Gives a fresh memfd its size and the seals that fix it.
    public static func sizeAndSeal(_ fd: Int32, length: UInt64) throws(SmafErrno) {
        guard ftruncate(fd, off_t(length)) == 0,
              smaf_sys_add_seals(fd, SMAF_SEAL_SHRINK | SMAF_SEAL_GROW) == 0
        else { throw allocationErrno(errno) }
    }

    /// Out of memory or of smafd's own descriptors: ENOMEM either way (the
    /// driver said EINVAL; see README "Differences").
    static func allocationErrno(_ e: Int32) -> SmafErrno {
        e == EFBIG || e == EINVAL ? .EINVAL : .ENOMEM
    }
}

/// A second name for an existing allocator (e.g. `smaf-cma` for programs that
/// hard-code the original CMA allocator's name).
public struct AllocatorAlias: Allocator {
    public let name: String
    public let target: any Allocator
    public var ranking: Int32 { target.ranking }
    public var backing: String { "alias of \(target.name): \(target.backing)" }
    public init(name: String, target: any Allocator) {
        self.name = name
        self.target = target
    }
    public func matches(_ devices: [DeviceConstraint]) -> Bool { target.matches(devices) }
    public func allocate(length: UInt64) throws(SmafErrno) -> Int32 { try target.allocate(length: length) }
    public var usesPlainMemfd: Bool { target.usesPlainMemfd }
}
