// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import Foundation
import SmafClient


struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Daemon version, device node, secure module and allocators in rank order.")

    @OptionGroup var options: CommonOptions

    func run() throws {
        let info = try options.query(HandoffProtocol.queryInfo)
        if options.json { return printJSON(info) }
        let s = { (k: String) in info[k] as? String ?? "?" }
        print("smafd \(s("version")) serving \(s("device")) on kernel \(s("kernel"))")
        print("secure module   \(s("secure_module")): \(s("secure_policy"))")
        print("handoff socket  \(s("handoff_socket"))")
        print("page size       \(info["page_size"] as? Int ?? 0) bytes")
        print("abi generations: \((info["abi_generations"] as? [String] ?? []).joined(separator: ","))")
        for w in info["warnings"] as? [String] ?? [] { print("warning: \(w)") }
        var table = TextTable(["index", "allocator", "ranking", "dmabuf", "contiguous", "kernel mappings", "lazy", "max size",
                               "secure", "charged to", "committed", "quota", "backing"], rightAligned: [0, 2, 7])
        var verdicts: [String] = []
        for a in info["allocators"] as? [[String: Any]] ?? [] {
            let yes = { (k: String) in a[k] as? Bool == true ? "yes" : "no" }
            let max = (a["max_size"] as? NSNumber)?.uint64Value ?? 0
            let kmap = a["kernel_mappings"] as? String ?? "?"
            table.add(["\(a["index"] as? Int ?? 0)", a["name"] as? String ?? "?", "\(a["ranking"] as? Int ?? 0)",
                       yes("dmabuf"), yes("contiguous"), kmap, yes("lazy"), max >= UInt64(Int64.max) ? "-" : humanBytes(max),
                       a["secure_enforced"] as? Bool == true ? "enforced" : "refused",
                       a["charged_to"] as? String ?? "?", a["committed_at"] as? String ?? "?",
                       a["quota_counted"] as? Bool == true ? "counted" : "-", a["backing"] as? String ?? ""])
            if kmap != "n/a" { verdicts.append("  \(a["name"] as? String ?? "?"): \(kmap), \(a["kernel_mappings_source"] as? String ?? "")") }
        }
        print("allocators (an unnamed buffer gets the first that can make it; secure: whether SET_SECURE_FLAG can be enforced;")
        print("  charged to: whose memory cgroup pays; quota: counted in smafd's quotas on unaccounted memory):")
        print(table.render())
        if !verdicts.isEmpty {
            print("kernel mappings (what devices that use buffers through the kernel, such as vivid and vkms, see):")
            verdicts.forEach { print($0) }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Live buffers and bytes (total, per user, per cgroup, per allocator) with the quotas, handoff connections, requests and refusals by errno.")

    @OptionGroup var options: CommonOptions

    func run() throws {
        let status = try options.query(HandoffProtocol.queryStatus)
        if options.json { return printJSON(status) }
        let n = { (k: String) in UInt64(status[k] as? Int ?? 0) }
        let live = n("live_buffers")
        print("\(status["device"] as? String ?? "?"): \(live) live buffer\(live == 1 ? "" : "s"), \(humanBytes(n("live_bytes"))), \(n("secure_buffers")) secure")
        print("created since start: \(n("created_total")); handoff connections: \(n("handoff_connections"))")
        printQuotas(status)
        var requests = TextTable(["request", "count"], rightAligned: [1])
        for (k, v) in (status["requests"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            requests.add([k, "\(v as? Int ?? 0)"])
        }
        print("requests:")
        print(requests.render())
        let refusals = (status["refusals"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }
        if refusals.isEmpty {
            print("refusals: none")
        } else {
            var t = TextTable(["errno", "count"], rightAligned: [1])
            for (k, v) in refusals { t.add([k, "\(v as? Int ?? 0)"]) }
            print("refusals:")
            print(t.render())
        }
    }
}

/// Runs a client call, turning its error into a one-line failure.
func wrap<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw Failure("\(error)") }
}
