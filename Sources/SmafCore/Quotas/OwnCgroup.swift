// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif

/// smafd's own memory cgroup (under systemd, smafd.service with its
/// MemoryMax=/MemoryHigh=): allocators charged to smafd (udmabuf pins the
/// pages of a memfd smafd made) would push it over its bound, and the
/// kernel's answer there is an OOM kill inside that cgroup, i.e. of smafd,
/// and every user would lose the daemon. Such a CREATE is refused with
/// ENOMEM instead while the cgroup is near its bound
/// (docs/reliability-and-security.md).
public struct OwnCgroup: Sendable {
    /// The cgroup's directory, e.g. /sys/fs/cgroup/system.slice/smafd.service;
    /// nil: smafd's cgroup at the time of each check (it can be moved).
    public let fixedDirectory: String?
    /// Kept free below the lower of memory.high and memory.max, for smafd's
    /// own allocations (its heap, the page tables of a new client).
    public let margin: UInt64

    public init(directory: String? = nil, margin: UInt64 = 16 << 20) {
        self.fixedDirectory = directory
        self.margin = margin
    }

    /// smafd's cgroup directory now (/proc/self/cgroup).
    var directory: String {
        if let fixedDirectory { return fixedDirectory }
        let p = CgroupReader.cgroup(ofProcess: getpid())
        return "/sys/fs/cgroup" + (p == "/" ? "" : p)
    }

    /// nil if `bytes` more fit; else why not (for the log).
    public func shortfall(for bytes: UInt64) -> String? {
        let directory = self.directory
        let limits = [("memory.high", "MemoryHigh="), ("memory.max", "MemoryMax=")].compactMap { file, unit -> (UInt64, String)? in
            guard let text = readSmallFile("\(directory)/\(file)"), let v = firstNumber(in: text) else { return nil }  // "max": none
            return (v, "\(file) (\(unit))")
        }
        guard let bound = limits.min(by: { $0.0 < $1.0 }),
              let current = readSmallFile("\(directory)/memory.current").flatMap({ firstNumber(in: $0) })
        else { return nil }
        let (need, o1) = current.addingReportingOverflow(bytes)
        let (withMargin, o2) = need.addingReportingOverflow(margin)
        if !o1 && !o2 && withMargin <= bound.0 { return nil }
        return "smafd's own cgroup \(directory) holds \(current) bytes; \(bytes) more (pages charged to smafd) and a margin of \(margin) would cross its \(bound.1) \(bound.0)"
    }
}
