// SPDX-License-Identifier: MIT
import SmafABI

/// Whose memory cgroup the kernel charges an allocator's pages to. Only
/// memory no cgroup limit of the caller can stop is counted in smafd's
/// quotas (QuotaLedger); docs/allocators.md says how each was checked.
public enum MemoryCharge: String, Sendable, Equatable {
    /// The process that first touches the pages (the caller, or whoever it
    /// shares the buffer with): shmem pages faulted in through a mapping.
    /// The kernel's own cgroup limits apply; smafd does not count them again.
    case caller
    /// smafd's own cgroup: udmabuf pins the pages of a memfd smafd made.
    case smafd
    /// No cgroup at all (dma-buf heap pages, a display controller's dumb buffers).
    case nobody = "no one"
}

/// When an allocator's pages are taken from the machine.
public enum MemoryCommit: String, Sendable, Equatable {
    /// All of them at CREATE, in smafd.
    case creation
    /// When a mapping (or an importing device) first touches them.
    case firstTouch = "first touch"
    /// At CREATE, and pinned (unswappable, unreclaimable) until the buffer dies.
    case pinned
}
