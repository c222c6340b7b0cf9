// SPDX-License-Identifier: MIT
import SmafABI
import Foundation

/// `smafctl status`'s quota part: the bounds on unaccounted memory and what
/// each user, cgroup and allocator holds (smafd's "quotas" object).
func printQuotas(_ status: [String: Any]) {
    guard let q = status["quotas"] as? [String: Any], q["enabled"] as? Bool == true else {
        print("quotas: none kept by this smafd")
        return
    }
    let n = { (d: [String: Any], k: String) in (d[k] as? NSNumber)?.uint64Value ?? 0 }
    let limit = { (v: Any?) -> String in
        guard let v = (v as? NSNumber)?.uint64Value else { return "none" }
        return v == .max ? "unlimited" : humanBytes(v)
    }
    let total = q["total"] as? [String: Any] ?? [:]
    let counted = (q["counted_allocators"] as? [String] ?? []).joined(separator: ", ")
    print("quotas on unaccounted memory (\(counted.isEmpty ? "no allocator here is counted" : counted)):")
    print("  all users \(humanBytes(n(total, "quota_bytes"))) of \(limit(q["total_limit"])); per user \(limit(q["user_limit"])); "
          + "per cgroup \(limit(q["cgroup_limit"])); reserve kept free \(humanBytes(n(q, "reserve")))")
    func table(_ key: String, _ title: String, _ column: String, name: ([String: Any]) -> String, withLimit: Bool) {
        let rows = q[key] as? [[String: Any]] ?? []
        guard !rows.isEmpty else { return }
        var t = TextTable([column, "buffers", "bytes", "counted"] + (withLimit ? ["limit"] : []), rightAligned: [1, 2, 3, 4])
        for r in rows {
            t.add([name(r), "\(n(r, "buffers"))", humanBytes(n(r, "bytes")), humanBytes(n(r, "quota_bytes"))]
                  + (withLimit ? [limit(r["limit"])] : []))
        }
        print("\(title):")
        print(t.render())
    }
    table("by_user", "per user", "uid", name: { "\(n($0, "uid"))" }, withLimit: true)
    table("by_cgroup", "per cgroup", "cgroup", name: { $0["cgroup"] as? String ?? "?" }, withLimit: true)
    table("by_allocator", "per allocator", "allocator", name: { $0["allocator"] as? String ?? "?" }, withLimit: false)
}
