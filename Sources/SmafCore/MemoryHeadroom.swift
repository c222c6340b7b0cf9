// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys

#if canImport(Glibc)
import Glibc
#endif

/// Eager allocators (dma-buf heaps, udmabuf) commit every page at CREATE, in
/// smafd's own context: a CREATE larger than the memory left would wake the
/// OOM killer, whose victim could be smafd itself. Such a CREATE is refused
/// with ENOMEM instead (lazy allocators leave the commit to the process that
/// touches the pages, whose own memory limits then apply).
public struct MemoryHeadroom: Sendable {
    /// Bytes that must stay available after the allocation.
    public let reserve: UInt64

    /// The default keeps 1/16 of RAM, at least 64 MiB, out of reach.
    public init(reserve: UInt64 = max(64 << 20, Limits.physicalMemory / 16)) {
        self.reserve = reserve
    }

    /// nil if `length` bytes can be committed now, else the bytes available.
    public func shortfall(for length: UInt64) -> UInt64? {
        // Cheap first: plenty of free memory needs no /proc read.
        var free: UInt64 = 0
        if smaf_sys_free_memory(&free) == 0, length <= free / 2, free / 2 - length >= reserve { return nil }
        let available = Self.memAvailable() ?? 0
        return length <= available && available - length >= reserve ? nil : available
    }

    /// /proc/meminfo "MemAvailable:", in bytes.
    static func memAvailable() -> UInt64? {
        guard let text = readSmallFile("/proc/meminfo") else { return nil }
        let key = "MemAvailable:"
        return text.split(separator: "\n").first { $0.hasPrefix(key) }
            .flatMap { firstNumber(in: $0.dropFirst(key.count)) }.map { $0 << 10 }
    }
}
