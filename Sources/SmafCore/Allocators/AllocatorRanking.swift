// SPDX-License-Identifier: MIT
import SmafABI
/// The default rankings (bigger is preferred; `--rank NAME=N` overrides).
/// The order says what an unnamed CREATE gets on a host that has several:
/// a real dma-buf first, since that is what the SMAF ABI promised, and among
/// dma-bufs the cheapest general-purpose one; scarce memory (contiguous
/// pools, huge pages) last among them, so it is left for the buffers whose
/// devices need it; CPU-only memory after every dma-buf.
public enum AllocatorRanking {
    /// vgem: pages committed at the first mapping (lazy, like SMAF itself), cheapest export.
    public static let drmVgem: Int32 = 70
    /// The system dma-buf heap: pages committed at allocation.
    public static let heapSystem: Int32 = 60
    /// udmabuf over shmem: every page committed and pinned at creation.
    public static let udmabuf: Int32 = 50
    /// Any other heap (on boards: CMA, carveouts): scarce, kept for devices that need it.
    public static let heapOther: Int32 = 40
    /// A DRM driver's dumb buffers, named with --drm-device.
    public static let drmOther: Int32 = 35
    /// udmabuf over huge pages: a scarce pool, contiguous within one huge page.
    public static let udmabufHugetlb: Int32 = 30
    /// CPU-only from here on.
    public static let memfd: Int32 = 0
    /// memfd_secret: CPU-only, counted against RLIMIT_MEMLOCK; only by name in practice.
    public static let secretmem: Int32 = -10
}
