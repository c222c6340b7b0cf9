// SPDX-License-Identifier: MIT
import ArgumentParser
import Foundation
import SmafClient
import SmafCore

/// The ABI conformance check: runs every case of the v10 ABI against a node
/// (smafd or a kernel driver) and prints a pass/fail table.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a /dev/smaf-like node speaks the SMAF v10 ABI; exits 1 on any failure.",
        discussion: """
            Struct sizes and request numbers, every error case of the spec with its errno, allocator \
            enumeration, and a create/mmap round trip (through a handoff channel to smafd when the node is \
            smafd, with a plain ioctl otherwise).
            """)

    @OptionGroup var options: CommonOptions

    @Option(help: ArgumentHelp(
        "Also check these older ABI generations: v2, v3, v7, s64 or all (comma-separated).",
        discussion: "Each must be served (smafd --abi-generations); one the node refuses is reported as refused with its errno and fails the check.",
        valueName: "list"))
    var generations = "v10"

    struct Result {
        let check: String
        let expected: String
        let got: String
        var passed: Bool { expected == got }
    }

    func run() throws {
        let wanted: AbiGenerations
        do { wanted = try AbiGenerations(parsing: generations) } catch { throw Failure("--generations: \(error)") }
        let dev = try options.open()
        var results: [Result] = []
        func add(_ check: String, _ expected: String, _ got: String) { results.append(Result(check: check, expected: expected, got: got)) }

        // Layout and numbers, as this tool encodes them (spec §1).
        add("struct sizes create/secure_flag/info", "128/64/128",
            "\(SmafCreateData.wireSize)/\(SmafSecureFlag.wireSize)/\(SmafInfo.wireSize)")
        add("request numbers", "C0805300 C0405301 C0405302 C0805303",
            SmafRequest.allCases.map { String($0.rawValue, radix: 16, uppercase: true) }.joined(separator: " "))

        // Errors: each must fail with its errno and leave the struct alone.
        func expect(_ check: String, _ request: UInt32, _ bytes: [UInt8], _ want: Int32) {
            var b = bytes
            let e = dev.raw(request, &b)
            add(check, errnoName(want), errnoName(e) + (e != 0 && b != bytes ? " (struct modified)" : ""))
        }
        var info = SmafInfo()
        info.version = 1
        expect("GET_INFO version 1", SmafRequest.getInfo.rawValue, info.encoded, EINVAL)
        info = SmafInfo()
        info.index = 0xFFFF_FFFF
        expect("GET_INFO index 0xFFFFFFFF", SmafRequest.getInfo.rawValue, info.encoded, EINVAL)
        var c = SmafCreateData()
        c.length = 16384
        c.flags = SmafABI.flagRDWR
        c.version = 1
        expect("CREATE version 1", SmafRequest.create.rawValue, c.encoded, EINVAL)
        c.version = 0
        for bad: UInt32 in [0o1, 0o100, 0x8000_0000] {
            c.flags = bad
            expect("CREATE flags 0x\(String(bad, radix: 16))", SmafRequest.create.rawValue, c.encoded, EINVAL)
        }
        c.flags = SmafABI.flagRDWR
        c.name = FixedBytes(cString: "deadbeef")
        expect("CREATE unknown allocator 'deadbeef'", SmafRequest.create.rawValue, c.encoded, EINVAL)
        var s = SmafSecureFlag()
        s.fd = -1
        expect("GET_SECURE_FLAG fd -1", SmafRequest.getSecureFlag.rawValue, s.encoded, EINVAL)
        s.fd = 0
        s.version = 1
        expect("GET_SECURE_FLAG version 1", SmafRequest.getSecureFlag.rawValue, s.encoded, EINVAL)
        expect("SET_SECURE_FLAG version 1", SmafRequest.setSecureFlag.rawValue, s.encoded, EINVAL)
        expect("unknown request _IOWR('S', 4, 128 bytes)", SmafABI.iowr(nr: 4, size: 128), [UInt8](repeating: 0, count: 128), EINVAL)
        // Older generations' numbers are refused as on the kernel driver,
        // unless this smafd serves them (checked below when asked for).
        let served = servedGenerations(dev)
        if served.isDisjoint(with: [.v3, .v7]) {
            expect("legacy v3-v7 CREATE 0xC0505300", 0xC050_5300, [UInt8](repeating: 0, count: 80), EINVAL)
        }
        if !served.contains(.v7) {
            expect("legacy v7 GET_INFO 0xC0485303", 0xC048_5303, [UInt8](repeating: 0, count: 72), EINVAL)
        }
        add("GET_INFO with a NULL argument", errnoName(EFAULT), errnoName(dev.raw(SmafRequest.getInfo.rawValue, pointer: nil)))

        // Enumeration.
        info = SmafInfo()
        info.reserved1 = 0xA5A5_A5A5
        let e0 = dev.ioctl(SmafRequest.getInfo.rawValue, &info)
        add("GET_INFO index 0", "success, count >= 1", e0 == 0 && info.count >= 1 ? "success, count >= 1" : "\(errnoName(e0)), count \(info.count)")
        add("GET_INFO echoes reserved fields", "A5A5A5A5", String(info.reserved1, radix: 16, uppercase: true))
        let count = e0 == 0 ? info.count : 0
        var names: [String] = []
        var padded = true
        for i in 0..<count {
            var e = SmafInfo()
            e.index = i
            e.name = FixedBytes([UInt8](repeating: 0xFF, count: 64))
            if dev.ioctl(SmafRequest.getInfo.rawValue, &e) == 0 {
                names.append(e.name.string)
                for k in e.name.prefixBeforeNUL..<64 where e.name[k] != 0 { padded = false }
            }
        }
        add("GET_INFO enumerates every index below count", "\(count) names", "\(names.count) names")
        add("allocator names are NUL-terminated and NUL-padded", "yes", padded && count > 0 ? "yes" : "no")
        info = SmafInfo()
        info.index = count
        expect("GET_INFO index == count (\(count))", SmafRequest.getInfo.rawValue, info.encoded, EINVAL)

        // Create, map, write, read back.
        roundTrip(dev, add)

        let v10Failed = results.contains { !$0.passed }
        var verdicts: [(String, String)] = [("v10", v10Failed ? "FAILED" : "ok")]
        let legacy = GenerationCheck(dev: dev, client: try? HandoffClient(device: dev), add: add)
        for (name, g) in AbiGenerations.named where g != .v10 && wanted.contains(g) {
            verdicts.append((name, legacy.run(name, g)))
        }

        if options.json {
            printJSON(results.map { ["check": $0.check, "expected": $0.expected, "got": $0.got, "passed": $0.passed] as [String: Any] })
        } else {
            var table = TextTable(["result", "check", "expected", "got"])
            for r in results { table.add([r.passed ? "PASS" : "FAIL", r.check, r.expected, r.got]) }
            print("SMAF v10 ABI check of \(dev.path)\(names.isEmpty ? "" : " (allocators: \(names.joined(separator: ", ")))")")
            print(table.render())
        }
        let failed = results.filter { !$0.passed }.count
        if !options.json {
            for (name, verdict) in verdicts { print("generation \(name): \(verdict)") }
            print("smafctl check: \(results.count - failed) passed, \(failed) failed")
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// What the node's smafd says it serves (v10 only for a kernel driver).
    private func servedGenerations(_ dev: SmafDeviceHandle) -> AbiGenerations {
        guard let client = try? HandoffClient(device: dev),
              let text = try? client.query(HandoffProtocol.queryInfo),
              let info = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let names = info["abi_generations"] as? [String] else { return .default }
        return (try? AbiGenerations(parsing: names.joined(separator: ","))) ?? .default
    }

    /// A 16385-byte buffer (read-write) and a read-only one: sizes, mappings, data.
    private func roundTrip(_ dev: SmafDeviceHandle, _ add: (String, String, String) -> Void) {
        // smafd hands the fd over a handoff channel; a kernel driver returns it itself.
        let client = try? HandoffClient(device: dev)
        func create(_ flags: UInt32) -> (Int32, String) {
            if let client {
                do { return (try client.create(length: 16385, flags: flags).fd, "success") } catch { return (-1, errnoName(error.errno)) }
            }
            var c = SmafCreateData()
            c.length = 16385
            c.flags = flags
            let e = dev.ioctl(SmafRequest.create.rawValue, &c)
            return e == 0 ? (c.fd, "success") : (-1, errnoName(e))
        }
        let (fd, got) = create(SmafABI.flagRDWR | SmafABI.flagCLOEXEC)
        add("CREATE 16385 bytes RDWR|CLOEXEC\(client == nil ? " (plain ioctl)" : " (via smafd handoff)")", "success", got)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        add("buffer size is rounded up to pages", "\(((16385 + 4095) / 4096) * 4096)", "\(st.st_size)")
        if let p = mmap(nil, 16385, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED {
            let b = p.bindMemory(to: UInt8.self, capacity: 16385)
            var zero = true
            for i in 0..<16385 where b[i] != 0 { zero = false }
            for i in 0..<16385 { b[i] = UInt8(truncatingIfNeeded: i &* 31) }
            var same = true
            for i in 0..<16385 where b[i] != UInt8(truncatingIfNeeded: i &* 31) { same = false }
            munmap(p, 16385)
            add("mmap 16385 bytes read-write shared", "success", "success")
            add("new buffer reads as zeros", "yes", zero ? "yes" : "no")
            add("data written through the mapping reads back", "yes", same ? "yes" : "no")
        } else {
            add("mmap 16385 bytes read-write shared", "success", errnoName(errno))
        }
        add("GET_SECURE_FLAG on the new buffer", "success, 0", {
            switch dev.getSecure(fd: fd) {
            case .success(let v): return "success, \(v ? 1 : 0)"
            case .failure(let e): return errnoName(e.errno)
            }
        }())
        let (ro, roGot) = create(SmafABI.flagCLOEXEC)
        add("CREATE without SMAF_RDWR", "success", roGot)
        guard ro >= 0 else { return }
        defer { close(ro) }
        let w = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0)
        add("read-only buffer: writable shared mmap", errnoName(EACCES), w == MAP_FAILED ? errnoName(errno) : "success")
        if w != MAP_FAILED { munmap(w, 4096) }
        let r = mmap(nil, 4096, PROT_READ, MAP_SHARED, ro, 0)
        add("read-only buffer: read-only mmap", "success", r == MAP_FAILED ? errnoName(errno) : "success")
        if r != MAP_FAILED { munmap(r, 4096) }
    }
}

func errnoName(_ e: Int32) -> String {
    switch e {
    case 0: return "success"
    case EINVAL: return "EINVAL"
    case EFAULT: return "EFAULT"
    case ENOTCONN: return "ENOTCONN"
    case ENOTTY: return "ENOTTY"
    case EBADF: return "EBADF"
    case EACCES: return "EACCES"
    case EPERM: return "EPERM"
    case EBUSY: return "EBUSY"
    case ENOMEM: return "ENOMEM"
    case ENOSPC: return "ENOSPC"
    case EAGAIN: return "EAGAIN"
    case ENOENT: return "ENOENT"
    case ETIMEDOUT: return "ETIMEDOUT"
    case EPROTO: return "EPROTO"
    default: return "errno \(e)"
    }
}
