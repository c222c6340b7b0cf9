// SPDX-License-Identifier: MIT
import Synchronization

/// The cgroup a CREATE's quota entry goes to, remembered per process for a
/// second, so a stream of CREATEs reads /proc/PID/cgroup once a second
/// instead of once each. A process moved to another cgroup is charged
/// there from at most a second later; its earlier buffers stay with the
/// entry they were charged to, as they always did.
public final class CgroupCache: Sendable {
    private let entries = Mutex([Int32: (path: String, until: UInt64)]())
    /// Milliseconds an answer is trusted.
    public static let lifetime: UInt64 = 1000
    /// Processes remembered at most; more empties the cache.
    static let capacity = 4096

    func cgroup(ofProcess pid: Int32, reading read: (Int32) -> String) -> String {
        let now = monotonicMilliseconds()
        if let hit = entries.withLock({ $0[pid] }), hit.until > now { return hit.path }
        let path = read(pid)
        entries.withLock { e in
            if e.count >= Self.capacity { e.removeAll(keepingCapacity: true) }
            e[pid] = (path, now + Self.lifetime)
        }
        return path
    }
}
