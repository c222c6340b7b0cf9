// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif

/// SmafDevice's side of the quotas: the charge at CREATE, and the parts of
/// `smafctl status` and `smafctl buffers` that show them.
extension SmafDevice {
    /// The ledger, if this daemon keeps one (it lives with the buffer lifetimes).
    public var quotas: QuotaLedger? { lifetime?.quotas }

    /// Charges a CREATE of `bytes` from `allocator` to the caller's uid and
    /// the cgroup of process `pid` (nil: no ledger). Memory charged to smafd
    /// must also fit in smafd's own cgroup (OwnCgroup). The failure is the
    /// reason for the log; the caller gets ENOMEM.
    func chargeQuota(_ caller: Caller, pid: Int32, bytes: UInt64, allocator: any Allocator) -> Result<QuotaCharge?, QuotaFailure> {
        guard let quotas else { return .success(nil) }
        if allocator.properties.charge == .smafd, let why = quotas.ownCgroup?.shortfall(for: bytes) {
            return .failure(QuotaFailure(description: "\(allocator.name): \(why)"))
        }
        let owner = QuotaOwner(uid: caller.uid, cgroup: cgroups.cgroup(ofProcess: pid) { environment.cgroup(ofProcess: $0) })
        do { return .success(try quotas.charge(owner: owner, bytes: bytes, allocator: allocator.name, charge: allocator.properties.charge)) } catch {
            return .failure(QuotaFailure(description: error.description))
        }
    }

    /// The counted bytes and bound of one user, for status's by_uid entries.
    func quotaFields(uid: UInt32) -> [(String, JSONValue)] {
        guard let quotas else { return [] }
        let counted = quotas.snapshot().users[uid]?.counted ?? 0
        return [("quota_bytes", .uint(counted)), ("quota_limit", .uint(quotas.limits.limit(forUser: uid)))]
    }

    /// Status's "quotas": the bounds, and live buffers and bytes (all, and
    /// the counted part) in total, per user, per cgroup and per allocator.
    /// Users other than root (and smafd's own) see their own user and the
    /// cgroups their buffers are in.
    func quotaStatus(viewer: UInt32?) -> JSONValue {
        guard let quotas else { return .object([("enabled", .bool(false))]) }
        let s = quotas.snapshot()
        let l = s.limits
        let seesEveryone = viewer.map { $0 == 0 || $0 == geteuid() } ?? true
        func usage(_ u: QuotaUsage) -> [(String, JSONValue)] {
            [("buffers", .uint(UInt64(u.buffers))), ("bytes", .uint(u.bytes)), ("quota_bytes", .uint(u.counted))]
        }
        let visibleCgroups = seesEveryone ? Set(s.cgroups.keys)
            : Set(buffers.all.compactMap { $0.record.ownerUID == viewer ? $0.record.quota?.owner.cgroup : nil })
        return .object([
            ("enabled", .bool(true)),
            ("user_limit", .uint(l.perUser)), ("cgroup_limit", .uint(l.perCgroup)), ("total_limit", .uint(l.total)),
            ("reserve", .uint(headroom.reserve)),
            ("counted_allocators", .array(registry.allocators.filter { l.counts(allocator: $0.name, charge: $0.properties.charge) }
                .map { .string($0.name) })),
            ("total", .object(usage(s.total))),
            ("by_user", .array(s.users.keys.sorted().filter { seesEveryone || $0 == viewer }.map { uid in
                .object([("uid", .uint(UInt64(uid)))] + usage(s.users[uid]!) + [("limit", .uint(l.limit(forUser: uid)))])
            })),
            ("by_cgroup", .array(s.cgroups.keys.sorted().filter { visibleCgroups.contains($0) }.map { path in
                .object([("cgroup", .string(path))] + usage(s.cgroups[path]!)
                        + [("limit", l.limit(forCgroup: path).map { .uint($0) } ?? .string("none"))])
            })),
            ("by_allocator", .array(s.allocators.keys.sorted().map { name in
                .object([("allocator", .string(name))] + usage(s.allocators[name]!))
            })),
        ])
    }

    /// The most buffers one `smafctl buffers` answer lists (it must fit in
    /// one handoff message, HandoffProtocol.queryMax).
    static let listedBuffersMax = 200

    /// `smafctl buffers`: the live buffers `viewer` may see (root and smafd's
    /// own user: all; others: their own), oldest first, with the processes
    /// that hold them open or mapped (BufferHolders).
    public func listBuffers(viewer: UInt32) -> JSONValue {
        forgetEnded()
        let seesEveryone = viewer == 0 || viewer == geteuid()
        let mine = buffers.all.filter { seesEveryone || $0.record.ownerUID == viewer }
            .sorted { ($0.record.createdAt, $0.identity.inode) < ($1.record.createdAt, $1.identity.inode) }
        var shown = Array(mine.prefix(Self.listedBuffersMax))
        let holders = BufferHolders.scan(Set(shown.map(\.identity)), onlyUID: seesEveryone ? nil : viewer)
        let now = monotonicSeconds()
        // At most 8 holder pids each; fewer buffers if the answer would not fit one message.
        func pids(_ s: Set<Int32>) -> JSONValue { .array(s.sorted().prefix(8).map { .int(Int64($0)) }) }
        func answer() -> JSONValue {
            .object([
                ("live_buffers", .uint(UInt64(mine.count))),
                ("listed", .uint(UInt64(shown.count))),
                ("buffers", .array(shown.map { id, r in
                    let h = holders[id] ?? BufferHolders.Holders()
                    return .object([
                        ("pid", .int(Int64(r.ownerPID))), ("uid", .uint(UInt64(r.ownerUID))),
                        ("cgroup", .string(r.quota?.owner.cgroup ?? "")), ("allocator", .string(r.allocator)),
                        ("bytes", .uint(r.length)), ("quota_counted", .bool(r.quota?.counted ?? false)),
                        ("age_seconds", .uint(now >= r.createdAt ? now - r.createdAt : 0)),
                        ("open_in", pids(h.openIn)), ("mapped_in", pids(h.mappedIn)),
                    ])
                })),
            ])
        }
        var result = answer()
        while result.rendered.utf8.count > HandoffProtocol.queryMax - HandoffProtocol.messageSize, !shown.isEmpty {
            shown.removeLast(max(1, shown.count / 4))
            result = answer()
        }
        return result
    }
}

/// Why a CREATE is refused for quota reasons.
struct QuotaFailure: Error {
    let description: String
}

extension BufferRecord {
    /// Who made it and when, and its quota entry.
    mutating func stamp(creator pid: Int32, quota: QuotaCharge?) {
        ownerPID = pid
        createdAt = monotonicSeconds()
        self.quota = quota
    }
}

