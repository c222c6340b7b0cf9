// SPDX-License-Identifier: MIT
import SmafABI
/// Where RAM lies in physical address space: an allocator that cannot choose
/// where its pages come from (all of smafd's) may hand out any of it, so a
/// device must address up to the top of RAM to use its buffers.
public enum SystemMemory {
    /// Bits needed to address the highest byte of RAM: from /proc/iomem's
    /// "System RAM" ranges (real addresses only for root; smafd reads it
    /// before dropping privileges), else from the amount of RAM (a lower
    /// bound: holes push the top higher).
    public static let addressBits: Int = {
        if let text = readSmallFile("/proc/iomem", limit: 1 << 16), let top = topOfRAM(iomem: text), top > 0 {
            return 64 - top.leadingZeroBitCount
        }
        return 64 - (Limits.physicalMemory - 1).leadingZeroBitCount
    }()

    /// The highest "System RAM" address in /proc/iomem's text (nil if none,
    /// or if addresses are hidden as zeros).
    public static func topOfRAM(iomem text: String) -> UInt64? {
        var top: UInt64?
        for line in text.split(separator: "\n") where line.hasSuffix(": System RAM") && !line.hasPrefix(" ") {
            let range = line.split(separator: " ").first ?? ""
            guard let end = range.split(separator: "-").last.flatMap({ UInt64($0, radix: 16) }), end > 0 else { continue }
            top = max(top ?? 0, end)
        }
        return top
    }
}
