// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// What an allocator's buffers are, declared once: GET_INFO's order,
/// `smafctl info` and the choice of an allocator for a request all read it.
public struct AllocatorProperties: Sendable, Equatable {
    /// A real dma-buf: kernel importers (V4L2, DRM PRIME) accept it.
    public var dmabuf: Bool
    /// Physically contiguous, guaranteed (not merely by chance).
    public var contiguous: Bool
    /// Pages are committed when first touched, not at CREATE.
    public var lazy: Bool
    /// The largest buffer it can make, in bytes.
    public var maxSize: UInt64
    /// It can hand out a read-only buffer (CREATE without SMAF_RDWR), so a
    /// writable shared mapping fails with EACCES as on the driver.
    public var readOnly: Bool
    /// Its buffers are memfds the write seal applies to, which is how
    /// `deny-cpu` enforces itself.
    public var writeSealable: Bool
    /// How smafd learns that a buffer is gone (see BufferLifetime).
    public var lifetime: BufferLifetimeKind
    /// Its pages lie below 2^addressBits (physical addresses).
    public var addressBits: Int
    /// Its buffers start on a multiple of this many bytes, physically.
    public var alignment: UInt64
    /// What really backs the memory, for operators.
    public var backing: String
    /// Whether the kernel's own mapping of a buffer holds its bytes (what
    /// software devices such as vivid and vkms see); KernelMappings.swift.
    public var kernelMappings: KernelMappings
    /// Whose cgroup pays for the pages (MemoryCharge.swift).
    public var charge: MemoryCharge
    /// When the pages are taken.
    public var commit: MemoryCommit

    /// kernelMappings nil: correct page by page for a dma-buf, n/a otherwise.
    /// charge and commit nil: a lazy allocator's pages are the toucher's,
    /// taken at first touch; an eager one's nobody's, taken at creation.
    public init(dmabuf: Bool, contiguous: Bool, lazy: Bool, maxSize: UInt64, readOnly: Bool,
                writeSealable: Bool, lifetime: BufferLifetimeKind, addressBits: Int = SystemMemory.addressBits,
                alignment: UInt64 = UInt64(sysconf(Int32(_SC_PAGESIZE))), backing: String,
                kernelMappings: KernelMappings? = nil, charge: MemoryCharge? = nil, commit: MemoryCommit? = nil) {
        self.dmabuf = dmabuf
        self.contiguous = contiguous
        self.lazy = lazy
        self.maxSize = maxSize
        self.readOnly = readOnly
        self.writeSealable = writeSealable
        self.lifetime = lifetime
        self.addressBits = addressBits
        self.alignment = alignment
        self.backing = backing
        self.kernelMappings = kernelMappings ?? (dmabuf ? .pageByPage : .cpuOnly)
        self.charge = charge ?? (lazy ? .caller : .nobody)
        self.commit = commit ?? (lazy ? .firstTouch : .creation)
    }
}

/// smafd's pid, read once (glibc's getpid() is a system call each time).
public let ownProcessID = getpid()

/// One buffer to make.
public struct AllocationRequest: Sendable {
    /// Bytes, already page-rounded and within the allocator's maxSize.
    public var length: UInt64
    /// SMAF_RDWR was asked for. Allocators whose `readOnly` property is true
    /// must make a read-only file otherwise; memfd-backed ones are reopened
    /// read-only by the caller instead.
    public var readWrite: Bool
    /// The process that will receive the buffer (for its resource limits).
    public var recipient: Int32

    public init(length: UInt64, readWrite: Bool = true, recipient: Int32 = ownProcessID) {
        self.length = length
        self.readWrite = readWrite
        self.recipient = recipient
    }
}

/// An allocator plug-in: a name CREATE can ask for, a ranking
/// that orders the list GET_INFO enumerates (index 0 = preferred), declared
/// properties from which its match() over the devices that will use a
/// buffer is answered (unmetConstraint), and the allocation itself.
/// The plug-ins are the other files of this folder; AllocatorDiscovery
/// probes which of them work on this host.
public protocol Allocator: Sendable {
    /// Printable ASCII, 1...63 bytes (the name must fit `name[64]` with its NUL).
    var name: String { get }
    /// Bigger is preferred.
    var ranking: Int32 { get }
    var properties: AllocatorProperties { get }
    /// A new file of exactly `request.length` bytes, zero-filled, owned by
    /// the caller.
    func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD
    /// True if its buffers are plain sealed memfds, so a memfd prepared ahead
    /// of time (MemfdPool) can be sized and sealed instead of allocate().
    var usesPlainMemfd: Bool { get }
}

extension Allocator {
    public var usesPlainMemfd: Bool { false }
    /// What really backs the memory, for operators.
    public var backing: String { properties.backing }
    /// Whether it can make this buffer at all (size, read-only).
    public func canServe(length: UInt64, readWrite: Bool) -> Bool {
        length <= properties.maxSize && (readWrite || properties.readOnly)
    }
}

/// Why an allocator could not make a buffer: the errno CREATE returns and a
/// reason for smafd's log.
public struct AllocationFailure: Error, Sendable {
    public let errno: SmafErrno
    public let reason: String
    public init(_ errno: SmafErrno, _ reason: String) {
        self.errno = errno
        self.reason = reason
    }

    /// A failed system call, mapped the same way for every allocator: out of
    /// memory (ENOMEM, ENOSPC from a pool, smafd out of descriptors) is
    /// ENOMEM; anything else the exporter refused (a size the file can never
    /// have, EFBIG, included) is EINVAL. The driver collapsed every failure
    /// into EINVAL (see docs/differences.md).
    public static func syscall(_ what: String, _ e: Int32 = Glibc.errno) -> AllocationFailure {
        let mapped: SmafErrno
        switch e {
        case ENOMEM, ENOSPC, EMFILE, ENFILE, EAGAIN: mapped = .ENOMEM
        default: mapped = .EINVAL
        }
        return AllocationFailure(mapped, "\(what): \(String(cString: strerror(e)))")
    }
}

/// An exporter's device node, opened once at start (before smafd drops its
/// privileges) and kept for the daemon's life.
public final class ExporterNode: Sendable {
    public let path: String
    private let owned: OwnedFD
    public var fd: Int32 { owned.raw }

    /// nil (with errno set) if the node cannot be opened.
    public init?(path: String, flags: Int32 = O_RDWR) {
        let fd = open(path, flags | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        self.path = path
        self.owned = OwnedFD(fd)
    }
}
