// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import Foundation
import SmafCheck
import SmafClient


/// The ABI conformance check: runs every case of the v10 ABI against a node
/// (smafd or a kernel driver) and prints a pass/fail table.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a /dev/smaf-like node speaks the SMAF v10 ABI; exits 1 on any failure.",
        discussion: """
            A node that does not answer GET_INFO of index 0 is reported as not a SMAF device (exit 1, no \
            table). Otherwise every error case of the spec with its errno and the struct left untouched, \
            allocator enumeration, and a create/mmap round trip (through a handoff channel to smafd when \
            the node is smafd, with a plain ioctl otherwise). Usage errors exit 64.
            """)

    @OptionGroup var options: CommonOptions

    @Option(help: ArgumentHelp(
        "Also check these older ABI generations: v2, v3, v7, s64 or all (comma-separated).",
        discussion: "Each must be served (smafd --abi-generations); one the node refuses is reported as refused with its errno and fails the check.",
        valueName: "list"))
    var generations = "v10"

    func validate() throws { _ = try wantedGenerations() }

    private func wantedGenerations() throws -> AbiGenerations {
        do { return try AbiGenerations(parsing: generations) } catch { throw ValidationError("--generations: \(error)") }
    }

    func run() throws {
        let wanted = try wantedGenerations()
        let dev = try options.open()
        let client = try? HandoffClient(device: dev)
        let node = DeviceNode(dev: dev, client: client)
        let names: [String]
        var results: [CheckResult]
        switch V10Check(node: node).run() {
        case .notASmafDevice(let reason): throw Failure("\(dev.path) is not a SMAF device (\(reason))")
        case .checked(let n, let r): (names, results) = (n, r)
        }
        let v10Failed = results.contains { !$0.passed }
        var verdicts: [(String, String)] = [("v10", v10Failed ? "FAILED" : "ok")]
        let legacy = GenerationCheck(dev: dev, client: client) { results.append(CheckResult(check: $0, expected: $1, got: $2)) }
        for (name, g) in AbiGenerations.named where g != .v10 && wanted.contains(g) {
            verdicts.append((name, legacy.run(name, g)))
        }

        if options.json {
            printJSON(results.map { ["check": $0.check, "expected": $0.expected, "got": $0.got, "passed": $0.passed] as [String: Any] })
        } else {
            var table = TextTable(["result", "check", "expected", "got"])
            for r in results { table.add([r.passed ? "PASS" : "FAIL", r.check, r.expected, r.got]) }
            print("SMAF v10 ABI check of \(dev.path) (allocators: \(names.joined(separator: ", ")))")
            print(table.render())
        }
        let failed = results.filter { !$0.passed }.count
        if !options.json {
            for (name, verdict) in verdicts { print("generation \(name): \(verdict)") }
            print("smafctl check: \(results.count - failed) passed, \(failed) failed")
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// The node smafctl checks: ioctls on the open device; buffers through a
/// handoff channel when smafd serves it, from the ioctl itself on a driver.
struct DeviceNode: CheckedNode {
    let dev: SmafDeviceHandle
    let client: HandoffClient?

    func ioctl(_ request: UInt32, _ bytes: inout [UInt8]) -> Int32 { dev.raw(request, &bytes) }
    func ioctlWithNullArgument(_ request: UInt32) -> Int32 { dev.raw(request, pointer: nil) }
    var createRoute: String { client == nil ? "(plain ioctl)" : "(via smafd handoff)" }

    func create(length: UInt64, flags: UInt32) -> (fd: Int32, errno: Int32) {
        if let client {
            do { return (try client.create(length: length, flags: flags).fd, 0) } catch { return (-1, error.errno) }
        }
        var c = SmafCreateData()
        c.length = length
        c.flags = flags
        let e = dev.ioctl(SmafRequest.create.rawValue, &c)
        return e == 0 ? (c.fd, 0) : (-1, e)
    }

    /// What the node's smafd says it serves (v10 only for a kernel driver).
    var servedGenerations: AbiGenerations {
        guard let client, let text = try? client.query(HandoffProtocol.queryInfo),
              let info = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let names = info["abi_generations"] as? [String] else { return .default }
        return (try? AbiGenerations(parsing: names.joined(separator: ","))) ?? .default
    }
}
