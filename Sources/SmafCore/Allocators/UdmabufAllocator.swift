// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// The memory a udmabuf wraps.
public enum UdmabufBacking: Sendable, Equatable {
    /// A sealed shmem memfd: scatter-gather pages.
    case shmem
    /// A hugetlb memfd of huge pages of this many bytes: physically contiguous
    /// within one huge page, which is therefore the largest buffer.
    case hugetlb(pageSize: UInt64)
}

/// `smaf-udmabuf` and `smaf-udmabuf-hugetlb`: a memfd wrapped by
/// /dev/udmabuf (UDMABUF_CREATE) into a dma-buf. udmabuf pins every page at
/// creation and keeps them after the memfd is closed; its buffers are always
/// read-write (the kernel offers no read-only export), so a CREATE without
/// SMAF_RDWR cannot use it.
public struct UdmabufAllocator: Allocator {
    public let name: String
    public let ranking: Int32
    public let properties: AllocatorProperties
    public let memory: UdmabufBacking
    let node: ExporterNode

    /// `sizeLimit`: the module's size_limit_mb in bytes (see sizeLimit(from:)).
    /// `kernelMappings`: the verdict for this kernel (KernelMappingRule.udmabuf).
    public init(node: ExporterNode, memory: UdmabufBacking, sizeLimit: UInt64, ranking: Int32? = nil,
                kernelMappings: KernelMappings = .pageByPage) {
        self.node = node
        self.memory = memory
        switch memory {
        case .shmem:
            name = "smaf-udmabuf"
            self.ranking = ranking ?? AllocatorRanking.udmabuf
            properties = AllocatorProperties(
                dmabuf: true, contiguous: false, lazy: false, maxSize: sizeLimit, readOnly: false,
                writeSealable: false, lifetime: .lastClose,
                backing: "udmabuf over a sealed shmem memfd (scatter-gather, pages pinned at creation)",
                kernelMappings: kernelMappings, charge: .smafd, commit: .pinned)
        case .hugetlb(let page):
            name = "smaf-udmabuf-hugetlb"
            self.ranking = ranking ?? AllocatorRanking.udmabufHugetlb
            // Pages of the reserved huge page pool: no memory cgroup counts them.
            properties = AllocatorProperties(
                dmabuf: true, contiguous: true, lazy: false, maxSize: min(page, sizeLimit), readOnly: false,
                writeSealable: false, lifetime: .lastClose, alignment: page,
                backing: "udmabuf over a hugetlb memfd (\(page >> 20) MiB pages: contiguous up to one page, from the reserved pool)",
                kernelMappings: kernelMappings, charge: .nobody, commit: .pinned)
        }
    }

    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD {
        let raw: Int32
        var fileSize = request.length
        switch memory {
        case .shmem:
            raw = smaf_sys_memfd("smaf-udmabuf")
        case .hugetlb(let page):
            raw = smaf_sys_memfd_hugetlb("smaf-udmabuf-hugetlb", UInt32(page.trailingZeroBitCount))
            fileSize = (request.length + page - 1) / page * page  // hugetlbfs sizes are whole pages
        }
        guard raw >= 0 else { throw .syscall("memfd_create") }
        // The udmabuf keeps the pages; the memfd closes when this returns.
        let memfd = OwnedFD(raw)
        guard ftruncate(memfd.raw, off_t(fileSize)) == 0 else { throw .syscall("ftruncate") }
        // udmabuf insists on F_SEAL_SHRINK (and refuses F_SEAL_WRITE).
        guard smaf_sys_add_seals(memfd.raw, SMAF_SEAL_SHRINK | SMAF_SEAL_GROW) == 0 else { throw .syscall("F_ADD_SEALS") }
        let fd = smaf_sys_udmabuf_create(node.fd, memfd.raw, request.length)
        guard fd >= 0 else {
            let e = errno
            // hugetlb pages are taken when udmabuf pins them: an empty pool shows here.
            if case .hugetlb = memory, e == ENOMEM || e == EFAULT || e == ENOSPC {
                throw AllocationFailure(.ENOMEM, "UDMABUF_CREATE: the huge page pool is exhausted (\(String(cString: strerror(e))))")
            }
            throw .syscall("UDMABUF_CREATE", e)
        }
        return OwnedFD(fd)
    }

    /// udmabuf's size limit: /sys/module/udmabuf/parameters/size_limit_mb
    /// (64 when unreadable, the kernel's default), in bytes.
    public static func sizeLimit(parameterFile: String = "/sys/module/udmabuf/parameters/size_limit_mb") -> UInt64 {
        (readSmallFile(parameterFile).flatMap { firstNumber(in: $0) } ?? 64) << 20
    }
}
