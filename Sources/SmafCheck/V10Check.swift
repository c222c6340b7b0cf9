// SPDX-License-Identifier: MIT
import SmafABI


#if canImport(Glibc)
import Glibc
#endif

/// The v10 conformance check. Every row compares what the node
/// did with what the spec says, so each can fail; nothing compares this
/// tool's own constants with themselves.
public struct V10Check {
    public enum Outcome {
        /// GET_INFO of index 0 is what every SMAF device answers; a node
        /// that does not is no SMAF device, and no row means anything.
        case notASmafDevice(reason: String)
        case checked(allocators: [String], results: [CheckResult])
    }

    let node: any CheckedNode
    public init(node: any CheckedNode) { self.node = node }

    public func run() -> Outcome {
        var probe = SmafInfo().encoded
        let e0 = node.ioctl(SmafRequest.getInfo.rawValue, &probe)
        guard e0 == 0, let first = SmafInfo(decoding: probe), first.count >= 1 else {
            return .notASmafDevice(reason: e0 != 0 ? "GET_INFO of index 0 fails with \(errnoName(e0))" : "GET_INFO of index 0 reports no allocator")
        }
        var results: [CheckResult] = []
        func add(_ check: String, _ expected: String, _ got: String) {
            results.append(CheckResult(check: check, expected: expected, got: got))
        }
        errors(add)
        let names = enumeration(add)
        roundTrip(add)
        return .checked(allocators: names, results: results)
    }

    /// Each error case fails with its errno and leaves the caller's struct alone.
    func errors(_ add: (String, String, String) -> Void) {
        func expect(_ check: String, _ request: UInt32, _ bytes: [UInt8], _ want: Int32) {
            var b = bytes
            let e = node.ioctl(request, &b)
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
        // unless the node says it serves them (smafctl check --generations).
        let served = node.servedGenerations
        if served.isDisjoint(with: [.v3, .v7]) {
            let v3 = RequestDescriptor.legacy.first { $0.number == 0xC050_5300 }!
            expect("legacy v3-v7 CREATE 0xC0505300", v3.number, legacyCreateBytes(v3, length: 4096, flags: SmafABI.flagRDWR), EINVAL)
        }
        if !served.contains(.v7) {
            expect("legacy v7 GET_INFO 0xC0485303", 0xC048_5303, [UInt8](repeating: 0, count: 72), EINVAL)
        }
        add("GET_INFO with a NULL argument", errnoName(EFAULT), errnoName(node.ioctlWithNullArgument(SmafRequest.getInfo.rawValue)))
    }

    /// GET_INFO of every index: the count, the names and their padding, the
    /// reserved fields echoed, and the index past the end refused.
    func enumeration(_ add: (String, String, String) -> Void) -> [String] {
        var info = SmafInfo()
        info.reserved1 = 0xA5A5_A5A5
        info.reserved3[39] = 0x5A
        var b = info.encoded
        let e0 = node.ioctl(SmafRequest.getInfo.rawValue, &b)
        let got = SmafInfo(decoding: b) ?? info
        add("GET_INFO echoes reserved fields", "A5A5A5A5 5A",
            e0 != 0 ? errnoName(e0) : "\(String(got.reserved1, radix: 16, uppercase: true)) \(String(got.reserved3[39], radix: 16, uppercase: true))")
        let count = e0 == 0 ? got.count : 0
        var names: [String] = []
        var counts = Set<UInt32>()
        var unpadded: [UInt32] = []
        var failures: [String] = []
        for i in 0..<min(count, 4096) {
            var e = SmafInfo()
            e.index = i
            e.name = FixedBytes([UInt8](repeating: 0xFF, count: 64))
            var eb = e.encoded
            let r = node.ioctl(SmafRequest.getInfo.rawValue, &eb)
            guard r == 0, let o = SmafInfo(decoding: eb) else {
                failures.append("index \(i): \(errnoName(r))")
                continue
            }
            names.append(o.name.string)
            counts.insert(o.count)
            if o.name.prefixBeforeNUL >= 64 || o.name.string.isEmpty { unpadded.append(i) }
            for k in o.name.prefixBeforeNUL..<64 where o.name[k] != 0 {
                unpadded.append(i)
                break
            }
        }
        add("GET_INFO answers every index below count (\(count))", "\(count) names, count \(count) each",
            failures.isEmpty && counts == [count] ? "\(names.count) names, count \(count) each"
                : (failures + (counts.subtracting([count]).isEmpty ? [] : ["counts \(counts.sorted())"])).joined(separator: ", "))
        add("allocator names are distinct", "\(names.count) distinct", "\(Set(names).count) distinct")
        add("allocator names are NUL-terminated and NUL-padded", "all", unpadded.isEmpty ? "all" : "not index \(unpadded.map(String.init).joined(separator: ","))")
        info = SmafInfo()
        info.index = count
        var past = info.encoded
        let ep = node.ioctl(SmafRequest.getInfo.rawValue, &past)
        add("GET_INFO index == count (\(count))", "EINVAL", errnoName(ep) + (ep != 0 && past != info.encoded ? " (struct modified)" : ""))
        return names
    }

    /// A 16385-byte buffer (read-write) and a read-only one: sizes, mappings, data.
    func roundTrip(_ add: (String, String, String) -> Void) {
        let (fd, e) = node.create(length: 16385, flags: SmafABI.flagRDWR | SmafABI.flagCLOEXEC)
        add("CREATE 16385 bytes RDWR|CLOEXEC \(node.createRoute)", "success", errnoName(e))
        guard fd >= 0 else { return }
        defer { close(fd) }
        var st = stat()
        add("buffer size is rounded up to pages", "\(((16385 + 4095) / 4096) * 4096)", fstat(fd, &st) == 0 ? "\(st.st_size)" : errnoName(errno))
        if let p = mmap(nil, 16385, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED {
            let b = p.bindMemory(to: UInt8.self, capacity: 16385)
            var zero = true
            for i in 0..<16385 where b[i] != 0 { zero = false }
            for i in 0..<16385 { b[i] = UInt8(truncatingIfNeeded: i &* 31) }
            munmap(p, 16385)
            // Read back through a second mapping: the data lives in the buffer, not the first mapping.
            var same = false
            if let q = mmap(nil, 16385, PROT_READ, MAP_SHARED, fd, 0), q != MAP_FAILED {
                let r = q.bindMemory(to: UInt8.self, capacity: 16385)
                same = (0..<16385).allSatisfy { r[$0] == UInt8(truncatingIfNeeded: $0 &* 31) }
                munmap(q, 16385)
            }
            add("mmap 16385 bytes read-write shared", "success", "success")
            add("new buffer reads as zeros", "yes", zero ? "yes" : "no")
            add("data written through the mapping reads back", "yes", same ? "yes" : "no")
        } else {
            add("mmap 16385 bytes read-write shared", "success", errnoName(errno))
        }
        var s = SmafSecureFlag()
        s.fd = fd
        s.secure = 0xEE
        var sb = s.encoded
        let se = node.ioctl(SmafRequest.getSecureFlag.rawValue, &sb)
        add("GET_SECURE_FLAG on the new buffer", "success, 0",
            se == 0 ? "success, \(SmafSecureFlag(decoding: sb)?.secure ?? 0xEE)" : errnoName(se))
        let (ro, roErr) = node.create(length: 16385, flags: SmafABI.flagCLOEXEC)
        add("CREATE without SMAF_RDWR", "success", errnoName(roErr))
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
