// SPDX-License-Identifier: MIT
/// Serving the older generations' request numbers by translating each into
/// the v10 operation it meant: the legacy struct's fields go into a v10
/// struct, the v10 code path runs with all its checks, and its results are
/// patched into an echo of the legacy struct (spec §2.2: the field mapping
/// is enough). Pre-v8 differences a program could observe (spec §3.20) are
/// reproduced: no version field and no CREATE flag validation.
extension SmafDevice {
    func legacyRequest(_ legacy: LegacyRequest, _ input: UnsafeRawBufferPointer,
                       _ output: UnsafeMutableRawBufferPointer, _ caller: Caller) -> Result<Int, SmafErrno> {
        let rq = legacy.number
        guard !generations.isDisjoint(with: legacy.generations) else {
            return refuse(.EINVAL, request: rq, caller: caller,
                          "legacy request (\(legacy.description)) is not enabled: smafd --abi-generations \(legacy.generationNames) serves it")
        }
        guard input.count == legacy.size, output.count >= legacy.size else {
            return refuse(.EINVAL, request: rq, caller: caller,
                          "argument is \(input.count) bytes in, \(output.count) out; expected \(legacy.size)")
        }
        // A reply echoes the request (reserved fields and all), as the
        // drivers did, with the operation's results written into it; a
        // refusal writes nothing.
        let echo = { output.copyMemory(from: input) }
        return withV10Structs { v10in, v10out in
            typealias C = SmafABI.CreateField
            typealias S = SmafABI.SecureFlagField
            typealias I = SmafABI.InfoField
            switch legacy.operation {
            case let .create(length, flags, name, fd, version):
                var f = input.field(flags, as: UInt32.self)
                if version == nil { f &= SmafABI.validCreateFlags }  // pre-v8: other bits were ignored
                v10in.setField(C.version, version.map { input.field($0, as: UInt64.self) } ?? 0)
                v10in.setField(C.length, input.unsignedField(length))
                v10in.setField(C.flags, f)
                if let name { v10in.copyBytes(from: input, at: name, count: SmafABI.maxNameLength, to: C.name) }
                let made = create(UnsafeRawBufferPointer(v10in), v10out, caller, request: rq,
                                  selectable: legacy.generations == .v2)
                return made.map { _ in
                    echo()
                    output.setSignedField(fd, Int64(v10out.field(C.fd, as: Int32.self)))
                    return legacy.size
                }
            case let .getSecureFlag(fd, secure, version), let .setSecureFlag(fd, secure, version):
                let number = input.signedField(fd)
                guard let fdNumber = Int32(exactly: number) else {
                    return refuse(.EINVAL, request: rq, caller: caller, "fd \(number) is not a file descriptor number")
                }
                v10in.setField(S.version, version.map { input.field($0, as: UInt64.self) } ?? 0)
                v10in.setField(S.fd, fdNumber)
                v10in.setField(S.secure, input.field(secure, as: UInt32.self))
                if case .setSecureFlag = legacy.operation {
                    if secureModule == nil {
                        return refuse(.EINVAL, request: rq, caller: caller, "no secure module is loaded (--secure-module none)")
                    }
                    return setSecureFlag(UnsafeRawBufferPointer(v10in), v10out, caller, request: rq).map { _ in 0 }
                }
                return getSecureFlag(UnsafeRawBufferPointer(v10in), v10out, caller, request: rq).map { _ in
                    echo()
                    output.setField(secure, v10out.field(S.secure, as: UInt32.self))
                    return legacy.size
                }
            case let .getInfo(index, count, name):
                v10in.setField(I.index, input.field(index, as: UInt32.self))
                return getInfo(UnsafeRawBufferPointer(v10in), v10out, caller, request: rq).map { _ in
                    echo()
                    output.setField(count, v10out.field(I.count, as: UInt32.self))
                    output.copyBytes(from: UnsafeRawBufferPointer(v10out), at: I.name, count: SmafABI.maxNameLength, to: name)
                    return legacy.size
                }
            case let .selectByName(fd, name):
                return selectByName(fd: input.field(fd, as: Int32.self), name: FixedBytes<64>.load(from: input, at: name),
                                    caller, v10in, v10out, request: rq).map { token in
                    echo()
                    if let token { output.setField(fd, token) }
                    return legacy.size
                }
            }
        }
    }

    /// v2's SMAF_IOC_SELECT_BY_NAME: binds allocator `name` to a v2 buffer
    /// nobody has bound yet (spec §3.20). The v2 driver allocated on first
    /// use, so the allocator could still change; here the memory exists
    /// since CREATE, so a different allocator means a new buffer, handed
    /// over like a CREATE's (its token in `fd`; the client library puts it
    /// behind the caller's fd number). EINVAL, as on v2: not a SMAF buffer,
    /// unknown name, already bound (selected, secured, or not made by a v2
    /// CREATE).
    /// Returns the new buffer's token when it moved, nil when it stayed.
    private func selectByName(fd: Int32, name: FixedBytes<64>,
                              _ caller: Caller, _ v10in: UnsafeMutableRawBufferPointer, _ v10out: UnsafeMutableRawBufferPointer,
                              request rq: UInt32) -> Result<Int32?, SmafErrno> {
        guard let identity = environment.fileIdentity(ofFD: fd, inThread: caller.tid) else {
            return .failure(refusal(.EINVAL, rq, caller, "fd \(fd) is not open in thread \(caller.tid)"))
        }
        var bounded = name
        bounded[SmafABI.maxNameLength - 1] = 0
        guard let allocator = registry.lookup(bounded) else {
            return .failure(refusal(.EINVAL, rq, caller, "no allocator named '\(bounded.string)'"))
        }
        // Claimed atomically: of two concurrent selects only one proceeds.
        guard let made = buffers.update(identity, { r -> (String, UInt64, UInt32)? in
            guard r.selectable, r.secure == nil else { return nil }
            r.selectable = false
            return (r.allocator, r.length, r.flags)
        }) else {
            return .failure(refusal(.EINVAL, rq, caller, "fd \(fd) is not a SMAF buffer (\(identity))"))
        }
        guard let (current, length, flags) = made else {
            return .failure(refusal(.EINVAL, rq, caller,
                          "fd \(fd) is already bound to an allocator (selected before, secured, or not made by a v2 CREATE)"))
        }
        if current == allocator.name { return .success(nil) }
        typealias C = SmafABI.CreateField
        v10in.setField(C.length, length)
        v10in.setField(C.flags, flags)
        FixedBytes<64>(cString: allocator.name).store(into: v10in, at: C.name)
        switch create(UnsafeRawBufferPointer(v10in), v10out, caller, request: rq) {
        case .success:
            logger.debug("v2 SELECT_BY_NAME from tid \(caller.tid): fd \(fd) moves from \(current) to \(allocator.name) (a new buffer, handed over)")
            return .success(v10out.field(C.fd, as: Int32.self))
        case .failure(let e):
            _ = buffers.update(identity) { $0.selectable = true }  // still unbound
            return .failure(e)
        }
    }

    /// Two zeroed v10-sized scratch structs on the stack.
    private func withV10Structs<R>(_ body: (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer) -> R) -> R {
        let size = max(SmafABI.createSize, SmafABI.infoSize, SmafABI.secureFlagSize)
        return withUnsafeTemporaryAllocation(byteCount: 2 * size, alignment: 8) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            return body(UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]),
                        UnsafeMutableRawBufferPointer(rebasing: raw[size..<(2 * size)]))
        }
    }
}

extension UnsafeRawBufferPointer {
    /// A 4- or 8-byte unsigned field, widened.
    public func unsignedField(_ f: LegacyField) -> UInt64 {
        f.width == 8 ? field(f.offset, as: UInt64.self) : UInt64(field(f.offset, as: UInt32.self))
    }
    /// A 4- or 8-byte signed field, widened.
    public func signedField(_ f: LegacyField) -> Int64 {
        f.width == 8 ? field(f.offset, as: Int64.self) : Int64(field(f.offset, as: Int32.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    func field<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
        UnsafeRawBufferPointer(self).field(offset, as: T.self)
    }
    /// Stores `value` into a 4- or 8-byte signed field (it fits: fds and tokens are 32-bit).
    public func setSignedField(_ f: LegacyField, _ value: Int64) {
        if f.width == 8 { setField(f.offset, value) } else { setField(f.offset, Int32(truncatingIfNeeded: value)) }
    }
    func copyBytes(from source: UnsafeRawBufferPointer, at from: Int, count: Int, to: Int) {
        UnsafeMutableRawBufferPointer(rebasing: self[to..<(to + count)])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[from..<(from + count)]))
    }
}
