// SPDX-License-Identifier: MIT
import SmafABI
import Foundation
import SmafCheck
import SmafClient


/// `smafctl check --generations`: each older ABI generation on a node, in
/// both of its layouts (a 64-bit process may issue the ILP32 numbers too;
/// smafd decodes by number). A generation the node does not serve shows as
/// "refused" with its errno, which fails the check.
struct GenerationCheck {
    let dev: SmafDeviceHandle
    let client: HandoffClient?
    let add: (String, String, String) -> Void

    /// Checks one generation; returns "ok", "refused (ERRNO)" or "FAILED".
    func run(_ name: String, _ generation: AbiGenerations) -> String {
        let requests = RequestDescriptor.legacy.filter { $0.generations.contains(generation) }
        var failed = false
        let check = { (what: String, expected: String, got: String) in
            if expected != got { failed = true }
            add("\(name): \(what)", expected, got)
        }
        // Served or refused: a CREATE in the first layout says which.
        let creates = requests.filter(\.creates)
        if let first = creates.first {
            var probe = legacyCreateBytes(first, length: 4096, flags: SmafABI.flagRDWR)
            let e = client == nil ? dev.raw(first.number, &probe) : {
                switch client!.createRaw(first, &probe) {
                case .success(let fd): close(fd); return 0
                case .failure(let err): return err.errno
                }
            }()
            if e == EINVAL {
                // Every request of the generation must be refused alike.
                let all = requests.allSatisfy { r in
                    var b = [UInt8](repeating: 0, count: r.size)
                    return dev.raw(r.number, &b) == EINVAL
                }
                add("\(name): every request refused alike", "yes", all ? "yes" : "no")
                add("\(name): served", "yes", "refused (\(errnoName(e)))")
                return "refused (\(errnoName(e)))"
            }
        }
        var madeFD: Int32 = -1
        for r in creates {
            let (fd, got) = create(r, flags: SmafABI.flagRDWR | SmafABI.flagCLOEXEC)
            check("\(r.description) 8193 bytes", "success", got)
            guard fd >= 0 else { continue }
            var st = stat()
            fstat(fd, &st)
            check("\(r.description) size is page-rounded", "12288", "\(st.st_size)")
            if let p = mmap(nil, 8193, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED {
                p.storeBytes(of: 0x5A, toByteOffset: 8192, as: UInt8.self)
                let back = p.load(fromByteOffset: 8192, as: UInt8.self)
                munmap(p, 8193)
                check("\(r.description) buffer maps and keeps data", "0x5a", "0x" + String(back, radix: 16))
            } else {
                check("\(r.description) buffer maps and keeps data", "0x5a", errnoName(errno))
            }
            if madeFD < 0 { madeFD = fd } else { close(fd) }
        }
        if let r = creates.first {
            let unknown = create(r, flags: SmafABI.flagRDWR, name: "deadbeef").1
            if case .create(let c) = r.layout, c.name != nil {
                check("\(r.name) unknown allocator 'deadbeef'", "EINVAL", unknown)
            }
            // Pre-v8 structs carry no flag checks; S64 keeps v8's.
            if case .create(let c) = r.layout {
                let version = c.version
                let (fd, got) = create(r, flags: SmafABI.flagRDWR | 0o100)
                if fd >= 0 { close(fd) }
                check("\(r.name) flags 0x42 (O_CREAT bit)", version == nil ? "success" : "EINVAL", got)
            }
        }
        defer { if madeFD >= 0 { close(madeFD) } }
        if madeFD >= 0, let get = requests.first(where: { $0.layout.kind == .getSecureFlag }),
           let set = requests.first(where: { $0.layout.kind == .setSecureFlag }) {
            check("\(set.name) 1 then \(get.name)", "success, 1", secureRoundTrip(set, get, madeFD, 1))
            check("\(set.name) 0 then \(get.name)", "success, 0", secureRoundTrip(set, get, madeFD, 0))
        }
        if let info = requests.first(where: { $0.layout.kind == .getInfo }),
           case .getInfo(let infoLayout) = info.layout {
            let indexAt = infoLayout.index, countAt = infoLayout.count, nameAt = infoLayout.name
            let v10 = (try? dev.allocators()) ?? []
            var names: [String] = []
            var counts = Set<Int32>()
            var e: Int32 = 0
            while e == 0 && names.count < 64 {
                var b = [UInt8](repeating: 0, count: info.size)
                b.withUnsafeMutableBytes { $0.storeBytes(of: Int32(names.count), toByteOffset: indexAt, as: Int32.self) }
                e = dev.raw(info.number, &b)
                if e == 0 {
                    names.append(String(decoding: b[nameAt..<(nameAt + 64)].prefix { $0 != 0 }, as: UTF8.self))
                    counts.insert(b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: countAt, as: Int32.self) })
                }
            }
            check("\(info.name) enumerates what v10 GET_INFO does", v10.joined(separator: ","), names.joined(separator: ","))
            check("\(info.name) past the last index", "EINVAL", errnoName(e))
            check("\(info.name) count", "\(v10.count)", counts.map(String.init).joined(separator: ","))
        }
        if generation == .v2 { selectChecks(requests, check) }
        return failed ? "FAILED" : "ok"
    }

    /// SELECT_BY_NAME: the buffer's own allocator binds it; a second select,
    /// or an unknown name, is EINVAL.
    private func selectChecks(_ requests: [RequestDescriptor], _ check: (String, String, String) -> Void) {
        guard let select = requests.first(where: { $0.layout.kind == .selectByName }),
              let create = requests.first(where: \.creates), let client else { return }
        let (fd, got) = self.create(create, flags: SmafABI.flagRDWR)
        guard fd >= 0 else { return check("v2 CREATE for SELECT_BY_NAME", "success", got) }
        defer { close(fd) }
        let allocator = (try? client.query(HandoffProtocol.queryBuffer, argument: UInt64(fd)))
            .flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["allocator"] as? String ?? "?"
        func selecting(_ name: String) -> String {
            var b = [UInt8](repeating: 0, count: select.size)
            b.withUnsafeMutableBytes { $0.storeBytes(of: fd, toByteOffset: 0, as: Int32.self) }
            for (i, c) in name.utf8.prefix(63).enumerated() { b[4 + i] = c }
            let e = dev.raw(select.number, &b)
            let same = b.withUnsafeBytes { $0.load(fromByteOffset: 0, as: Int32.self) } == fd
            return e == 0 ? (same ? "success" : "success, moved") : errnoName(e)
        }
        check("v2 SELECT_BY_NAME unknown name 'deadbeef'", "EINVAL", selecting("deadbeef"))
        check("v2 SELECT_BY_NAME the buffer's own allocator (\(allocator))", "success", selecting(allocator))
        check("v2 SELECT_BY_NAME again on a bound buffer", "EINVAL", selecting(allocator))
    }

    private func secureRoundTrip(_ set: RequestDescriptor, _ get: RequestDescriptor, _ fd: Int32, _ value: UInt32) -> String {
        guard case .setSecureFlag(let setLayout) = set.layout, case .getSecureFlag(let getLayout) = get.layout else { return "?" }
        let fdAt = setLayout.fd, secureAt = setLayout.secure, getFD = getLayout.fd, getSecure = getLayout.secure
        var s = [UInt8](repeating: 0, count: set.size)
        s.withUnsafeMutableBytes {
            $0.setSignedField(fdAt, Int64(fd))
            $0.storeBytes(of: value, toByteOffset: secureAt, as: UInt32.self)
        }
        let e = dev.raw(set.number, &s)
        guard e == 0 else { return errnoName(e) }
        var g = [UInt8](repeating: 0, count: get.size)
        g.withUnsafeMutableBytes { $0.setSignedField(getFD, Int64(fd)) }
        let e2 = dev.raw(get.number, &g)
        guard e2 == 0 else { return errnoName(e2) }
        return "success, \(g.withUnsafeBytes { $0.load(fromByteOffset: getSecure, as: UInt32.self) })"
    }

    /// A legacy CREATE through the handoff (a plain ioctl on a node that is not smafd).
    private func create(_ r: RequestDescriptor, flags: UInt32, name: String = "") -> (Int32, String) {
        var b = legacyCreateBytes(r, length: 8193, flags: flags, name: name)
        guard let client else {
            let e = dev.raw(r.number, &b)
            return e == 0 ? (Int32(truncatingIfNeeded: b.withUnsafeBytes { $0.signedField(Self.fdField(r)) }), "success") : (-1, errnoName(e))
        }
        switch client.createRaw(r, &b) {
        case .success(let fd): return (fd, "success")
        case .failure(let e): return (-1, errnoName(e.errno))
        }
    }

    static func fdField(_ r: RequestDescriptor) -> WireField {
        if case .create(let c) = r.layout { return c.fd }
        return WireField(0, 4)
    }
}

