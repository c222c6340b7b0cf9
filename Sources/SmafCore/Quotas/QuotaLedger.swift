// SPDX-License-Identifier: MIT
import SmafABI
import Synchronization

/// Whom a buffer is charged to in the ledger: the creating process's uid
/// and cgroup (read at CREATE).
public struct QuotaOwner: Sendable, Hashable {
    public let uid: UInt32
    public let cgroup: String
    public init(uid: UInt32, cgroup: String) {
        self.uid = uid
        self.cgroup = cgroup
    }
}

/// One live buffer's entry, kept in its BufferRecord and handed back to
/// `release` when the buffer dies.
public struct QuotaCharge: Sendable, Equatable {
    public let owner: QuotaOwner
    public let allocator: String
    public let bytes: UInt64
    /// Counted against the quotas (its memory is no cgroup's of the caller).
    public let counted: Bool
}

/// Which bound a CREATE would cross.
public enum QuotaKind: String, Sendable {
    case user = "--user-limit"
    case cgroup = "--cgroup-limit"
    case total = "--total-limit"
}

/// A refused charge: ENOMEM for the caller, this for smafd's debug log.
public struct QuotaRefusal: Error, Sendable, CustomStringConvertible {
    public let kind: QuotaKind
    public let owner: QuotaOwner
    public let bytes: UInt64
    /// What is already counted against that bound.
    public let held: UInt64
    public let limit: UInt64

    public var description: String {
        let whose: String
        switch kind {
        case .user: whose = "uid \(owner.uid)"
        case .cgroup: whose = "cgroup \(owner.cgroup)"
        case .total: whose = "all users together"
        }
        return "quota: uid \(owner.uid) in cgroup \(owner.cgroup) asks \(bytes) bytes; \(whose) already hold \(held) of \(kind.rawValue) \(limit)"
    }
}

/// Live buffers and bytes of one user, cgroup or allocator; `counted` is the
/// part the quotas count.
public struct QuotaUsage: Sendable, Equatable {
    public var buffers = 0
    public var bytes: UInt64 = 0
    public var counted: UInt64 = 0
    public init(buffers: Int = 0, bytes: UInt64 = 0, counted: UInt64 = 0) {
        self.buffers = buffers
        self.bytes = bytes
        self.counted = counted
    }

    mutating func add(_ c: QuotaCharge) {
        buffers += 1
        bytes &+= c.bytes
        if c.counted { counted &+= c.bytes }
    }

    /// True when nothing is left (the entry can go).
    mutating func subtract(_ c: QuotaCharge) -> Bool {
        buffers -= 1
        bytes &-= c.bytes
        if c.counted { counted &-= c.bytes }
        return buffers <= 0
    }
}

/// Everything the ledger holds, for `smafctl status`.
public struct QuotaSnapshot: Sendable {
    public var limits: QuotaLimits
    public var total: QuotaUsage
    public var users: [UInt32: QuotaUsage]
    public var cgroups: [String: QuotaUsage]
    public var allocators: [String: QuotaUsage]
}

/// The memory smafd hands out that the kernel charges to no cgroup of the
/// caller (dma-buf heap pages: no one; udmabuf: smafd's own cgroup), counted
/// per user, per cgroup and in total, so that no user can take more than a
/// share of it (docs/reliability-and-security.md). A charge is taken before
/// the memory is allocated, so concurrent CREATEs cannot overshoot, and
/// released when the buffer dies (BufferLifetime) or its creation fails.
public final class QuotaLedger: Sendable {
    private struct State {
        var total = QuotaUsage()
        var users: [UInt32: QuotaUsage] = [:]
        var cgroups: [String: QuotaUsage] = [:]
        var allocators: [String: QuotaUsage] = [:]
    }
    private let state = Mutex(State())
    public let limits: QuotaLimits
    /// smafd's own cgroup, checked before memory charged to smafd is taken
    /// (nil: not checked).
    public let ownCgroup: OwnCgroup?

    public init(limits: QuotaLimits = .defaults(), ownCgroup: OwnCgroup? = nil) {
        self.limits = limits
        self.ownCgroup = ownCgroup
    }

    /// Records a buffer of `bytes` from `allocator` for `owner`, unless its
    /// counted bytes would cross a bound (nothing is recorded then).
    public func charge(owner: QuotaOwner, bytes: UInt64, allocator: String, charge: MemoryCharge) throws(QuotaRefusal) -> QuotaCharge {
        let entry = QuotaCharge(owner: owner, allocator: allocator, bytes: bytes,
                                counted: limits.counts(allocator: allocator, charge: charge))
        let refusal = state.withLock { s -> QuotaRefusal? in
            if entry.counted {
                func crosses(_ held: UInt64, _ limit: UInt64) -> Bool {
                    let (sum, overflow) = held.addingReportingOverflow(bytes)
                    return overflow || sum > limit
                }
                let user = s.users[owner.uid]?.counted ?? 0, userLimit = limits.limit(forUser: owner.uid)
                if crosses(user, userLimit) {
                    return QuotaRefusal(kind: .user, owner: owner, bytes: bytes, held: user, limit: userLimit)
                }
                let cgroup = s.cgroups[owner.cgroup]?.counted ?? 0
                if let cgroupLimit = limits.limit(forCgroup: owner.cgroup), crosses(cgroup, cgroupLimit) {
                    return QuotaRefusal(kind: .cgroup, owner: owner, bytes: bytes, held: cgroup, limit: cgroupLimit)
                }
                if crosses(s.total.counted, limits.total) {
                    return QuotaRefusal(kind: .total, owner: owner, bytes: bytes, held: s.total.counted, limit: limits.total)
                }
            }
            s.total.add(entry)
            s.users[owner.uid, default: QuotaUsage()].add(entry)
            s.cgroups[owner.cgroup, default: QuotaUsage()].add(entry)
            s.allocators[allocator, default: QuotaUsage()].add(entry)
            return nil
        }
        if let refusal { throw refusal }
        return entry
    }

    /// Gives a charge back (its buffer died, or its creation failed).
    public func release(_ entry: QuotaCharge) {
        state.withLock { s in
            _ = s.total.subtract(entry)
            if s.users[entry.owner.uid]?.subtract(entry) == true { s.users[entry.owner.uid] = nil }
            if s.cgroups[entry.owner.cgroup]?.subtract(entry) == true { s.cgroups[entry.owner.cgroup] = nil }
            if s.allocators[entry.allocator]?.subtract(entry) == true { s.allocators[entry.allocator] = nil }
        }
    }

    public func snapshot() -> QuotaSnapshot {
        state.withLock { s in
            QuotaSnapshot(limits: limits, total: s.total, users: s.users, cgroups: s.cgroups, allocators: s.allocators)
        }
    }
}
