// SPDX-License-Identifier: MIT
import ArgumentParser
import Foundation
import SmafABI

struct Buffers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Live buffers: creator pid and uid, cgroup, allocator, size, age, and the processes holding them open or mapped.",
        discussion: "root sees every buffer, other users their own. At most 200 are listed, oldest first.")

    @OptionGroup var options: CommonOptions

    func run() throws {
        let answer = try options.query(HandoffProtocol.queryBuffers)
        if options.json { return printJSON(answer) }
        let n = { (d: [String: Any], k: String) in (d[k] as? NSNumber)?.uint64Value ?? 0 }
        let pids = { (d: [String: Any], k: String) -> String in
            let list = (d[k] as? [Int] ?? []).map(String.init)
            return list.isEmpty ? "-" : list.joined(separator: ",")
        }
        let rows = answer["buffers"] as? [[String: Any]] ?? []
        let live = n(answer, "live_buffers")
        print("\(live) live buffer\(live == 1 ? "" : "s")\(UInt64(rows.count) < live ? ", the oldest \(rows.count) listed" : "")")
        guard !rows.isEmpty else { return }
        var t = TextTable(["pid", "uid", "allocator", "size", "counted", "age", "open in", "mapped in", "cgroup"],
                          rightAligned: [0, 1, 3, 5])
        for b in rows {
            t.add(["\(b["pid"] as? Int ?? 0)", "\(n(b, "uid"))", b["allocator"] as? String ?? "?", humanBytes(n(b, "bytes")),
                   b["quota_counted"] as? Bool == true ? "yes" : "no", "\(n(b, "age_seconds"))s",
                   pids(b, "open_in"), pids(b, "mapped_in"), b["cgroup"] as? String ?? ""])
        }
        print(t.render())
    }
}
