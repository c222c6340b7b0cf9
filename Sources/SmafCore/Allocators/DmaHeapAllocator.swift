// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// `smaf-heap-<heap>`: a dma-buf from a kernel dma-buf heap,
/// /dev/dma_heap/<heap> (DMA_HEAP_IOCTL_ALLOC). The heap commits every page
/// at allocation. The system heap gives scatter-gather memory; CMA heaps (on
/// boards: "linux,cma", "reserved", "default_cma_region", or any name with
/// "cma" in it) give physically contiguous memory.
public struct DmaHeapAllocator: Allocator {
    public let heap: String
    public let name: String
    public let ranking: Int32
    public let properties: AllocatorProperties
    let node: ExporterNode

    /// Opens /dev/dma_heap/<heap> (nil with errno if it cannot be opened).
    public init?(heap: String, directory: String = "/dev/dma_heap", ranking: Int32? = nil) {
        guard let node = ExporterNode(path: "\(directory)/\(heap)", flags: O_RDONLY) else { return nil }
        let contiguous = Self.isContiguousHeap(heap)
        self.heap = heap
        self.node = node
        self.name = Self.allocatorName(forHeap: heap)
        self.ranking = ranking ?? (heap == "system" ? AllocatorRanking.heapSystem : AllocatorRanking.heapOther)
        self.properties = AllocatorProperties(
            dmabuf: true, contiguous: contiguous, lazy: false, maxSize: UInt64(Int64.max), readOnly: true,
            writeSealable: false, lifetime: .lastClose,
            backing: "dma-buf heap \(node.path) (\(contiguous ? "physically contiguous" : "scatter-gather"), pages committed at allocation)")
    }

    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD {
        let fd = smaf_sys_heap_alloc(node.fd, request.length, request.readWrite ? 1 : 0)
        guard fd >= 0 else { throw .syscall("DMA_HEAP_IOCTL_ALLOC on \(node.path)") }
        return OwnedFD(fd)
    }

    /// `smaf-heap-<heap>`, mapped to the allocator name alphabet.
    public static func allocatorName(forHeap heap: String) -> String { AllocatorRegistry.validName("smaf-heap-" + heap) }

    /// Heap names the kernel gives CMA areas (the default area is "reserved",
    /// or "default_cma_region" on newer kernels; device-tree areas keep their
    /// node name, conventionally "linux,cma"). Contiguity is only claimed
    /// where it is guaranteed.
    public static func isContiguousHeap(_ heap: String) -> Bool {
        heap == "reserved" || heap == "default_cma_region" || heap.lowercased().contains("cma")
    }
}
