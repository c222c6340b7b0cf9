// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import SmafCore

extension Smafd {
    /// --user-limit, --cgroup-limit, --total-limit, --quota-allocator as QuotaLimits.
    func quotaLimits() throws -> QuotaLimits {
        for name in quotaAllocators where !Self.isAllocatorName(name) {
            throw ValidationError("--quota-allocator: '\(name)' is not an allocator name; allocators are \(Self.allocatorNames)")
        }
        do {
            return try QuotaLimits.parse(userLimits: userLimits, cgroupLimits: cgroupLimits, totalLimit: totalLimit,
                                         countedAllocators: quotaAllocators)
        } catch { throw ValidationError(error.description) }
    }

    /// The start-up log's line about the quotas.
    func quotaSummary(_ device: SmafDevice) -> String {
        guard let q = device.quotas else { return "none" }
        let l = q.limits
        func size(_ v: UInt64) -> String { v == .max ? "unlimited" : "\(v) bytes" }
        let counted = device.registry.allocators.filter { l.counts(allocator: $0.name, charge: $0.properties.charge) }.map(\.name)
        return """
            unaccounted memory (\(counted.isEmpty ? "no allocator here" : counted.joined(separator: ", "))): \
            per user \(size(l.perUser)), per cgroup \(size(l.perCgroup)), all users \(size(l.total))\
            \(l.users.isEmpty && l.cgroups.isEmpty ? "" : "; also " + (l.users.sorted { $0.key < $1.key }.map { "uid \($0.key) \(size($0.value))" } + l.cgroups.sorted { $0.key < $1.key }.map { "\($0.key) \(size($0.value))" }).joined(separator: ", "))
            """
    }
}
