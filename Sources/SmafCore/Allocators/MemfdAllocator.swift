// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// `smaf-memfd`: buffers are memfds sealed against shrinking and growing,
/// whose pages shmem commits only when first touched, which is SMAF's
/// deferred allocation done by the kernel. CPU-only: no device imports a
/// memfd, so it serves no device set.
public struct MemfdAllocator: Allocator {
    public let name = "smaf-memfd"
    public let ranking: Int32
    public let properties = AllocatorProperties(
        dmabuf: false, contiguous: false, lazy: true, maxSize: UInt64(Int64.max), readOnly: true,
        writeSealable: true, lifetime: .inode,
        backing: "memfd (shmem, size sealed, pages committed on first touch)")

    public init(ranking: Int32 = AllocatorRanking.memfd) { self.ranking = ranking }

    public var usesPlainMemfd: Bool { true }

    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD {
        let raw = smaf_sys_memfd(smafBufferMemfdName)
        guard raw >= 0 else { throw .syscall("memfd_create") }
        let fd = OwnedFD(raw)
        try Self.sizeAndSeal(fd.raw, length: request.length)
        return fd
    }

    /// Gives a fresh memfd its size and the seals that fix it.
    public static func sizeAndSeal(_ fd: Int32, length: UInt64) throws(AllocationFailure) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .syscall("ftruncate") }
        guard smaf_sys_add_seals(fd, SMAF_SEAL_SHRINK | SMAF_SEAL_GROW) == 0 else { throw .syscall("F_ADD_SEALS") }
    }
}
