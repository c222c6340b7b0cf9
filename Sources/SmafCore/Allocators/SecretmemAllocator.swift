// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// `smaf-secretmem`: memfd_secret(2) memory, removed from the kernel's direct
/// map, so neither root (read(2), /proc/PID/mem, process_vm_readv) nor the
/// kernel's own direct map can reach it. CPU-only (not a dma-buf), not
/// sealable, and its pages are locked memory: faults beyond the mapping
/// process's RLIMIT_MEMLOCK raise SIGBUS, so a buffer larger than the
/// recipient's limit is refused (ENOMEM) instead of handed out.
public struct SecretmemAllocator: Allocator {
    public let name = "smaf-secretmem"
    public let ranking: Int32
    public let properties = AllocatorProperties(
        dmabuf: false, contiguous: false, lazy: true, maxSize: UInt64(Int64.max), readOnly: false,
        writeSealable: false, lifetime: .lastClose,
        backing: "memfd_secret (outside the kernel's direct map; locked memory, counted against RLIMIT_MEMLOCK)")
    /// Reads a process's RLIMIT_MEMLOCK soft limit (nil: unlimited or unknown).
    let memlockLimit: @Sendable (Int32) -> UInt64?

    public init(ranking: Int32 = AllocatorRanking.secretmem,
                memlockLimit: @escaping @Sendable (Int32) -> UInt64? = { SecretmemAllocator.memlockSoftLimit(of: $0) }) {
        self.ranking = ranking
        self.memlockLimit = memlockLimit
    }

    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD {
        if let limit = memlockLimit(request.recipient), request.length > limit {
            throw AllocationFailure(.ENOMEM, "\(request.length) bytes exceed process \(request.recipient)'s "
                + "RLIMIT_MEMLOCK of \(limit) bytes (secretmem pages are locked memory: touching them beyond it raises SIGBUS)")
        }
        let raw = smaf_sys_memfd_secret()
        guard raw >= 0 else { throw .syscall("memfd_secret") }
        let fd = OwnedFD(raw)
        guard ftruncate(fd.raw, off_t(request.length)) == 0 else { throw .syscall("ftruncate") }
        return fd
    }

    /// "Max locked memory" (soft) from /proc/<pid>/limits, which any process
    /// may read; nil for "unlimited" or when the process is gone.
    public static func memlockSoftLimit(of pid: Int32) -> UInt64? {
        guard let text = readSmallFile("/proc/\(pid)/limits") else { return nil }
        let key = "Max locked memory"
        return text.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { firstNumber(in: $0.dropFirst(key.count)) }
    }
}
