// SPDX-License-Identifier: MIT
import SmafABI

/// The bounds on live bytes of memory that no cgroup limit of the caller
/// stops (QuotaLedger): per user, per cgroup and for everyone together.
/// smafd(8) --user-limit, --cgroup-limit, --total-limit, --quota-allocator.
public struct QuotaLimits: Sendable, Equatable {
    /// Every user's bound, unless `users` names the uid.
    public var perUser: UInt64
    /// Every cgroup's bound except the root cgroup's, unless `cgroups` names it.
    public var perCgroup: UInt64
    /// All users together.
    public var total: UInt64
    /// Bounds for particular uids.
    public var users: [UInt32: UInt64]
    /// Bounds for particular cgroups, by their path in /proc/<pid>/cgroup.
    public var cgroups: [String: UInt64]
    /// Allocators counted although the kernel charges their pages to whoever
    /// touches them (for machines whose users have no memory.max).
    public var countedAllocators: Set<String>

    public init(perUser: UInt64, perCgroup: UInt64, total: UInt64, users: [UInt32: UInt64] = [:],
                cgroups: [String: UInt64] = [:], countedAllocators: Set<String> = []) {
        self.perUser = perUser
        self.perCgroup = perCgroup
        self.total = total
        self.users = users
        self.cgroups = cgroups
        self.countedAllocators = countedAllocators
    }

    /// A quarter of the memory per user and per cgroup, half for everyone:
    /// one user cannot lock the others out, and with the eager allocators'
    /// reserve (MemoryHeadroom) at least 7/16 of the machine stays for the
    /// memory that cgroups do account. docs/reliability-and-security.md.
    public static func defaults(physicalMemory m: UInt64 = Limits.physicalMemory) -> QuotaLimits {
        QuotaLimits(perUser: m / 4, perCgroup: m / 4, total: m / 2)
    }

    public static let unlimited = QuotaLimits(perUser: .max, perCgroup: .max, total: .max)

    public func limit(forUser uid: UInt32) -> UInt64 { users[uid] ?? perUser }

    /// nil: not bounded. The root cgroup holds every process no manager
    /// placed (all of them on a machine without systemd); bounding it would
    /// make a second total, so only an explicit bound applies there.
    public func limit(forCgroup path: String) -> UInt64? {
        if let explicit = cgroups[path] { return explicit }
        return path == "/" || path.isEmpty ? nil : perCgroup
    }

    /// Whether `allocator`'s bytes count, given whom its pages are charged to.
    public func counts(allocator: String, charge: MemoryCharge) -> Bool {
        charge != .caller || countedAllocators.contains(allocator)
    }
}
