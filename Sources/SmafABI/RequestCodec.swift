// SPDX-License-Identifier: MIT
/// Decoding a request's struct into its typed call, and encoding the
/// reply into an echo of it: the one place bytes become values and back.
extension RequestDescriptor {
    /// `raw` must be exactly `size` bytes (the dispatcher checks).
    public func decode(_ raw: UnsafeRawBufferPointer) -> Result<SmafCall, DecodeRefusal> {
        switch layout {
        case .create(let c):
            return .success(.create(Self.createArguments(raw, c)))
        case .getSecureFlag(let s), .setSecureFlag(let s):
            let number = raw.signedField(s.fd)
            guard let fd = Int32(exactly: number) else {
                return .failure(DecodeRefusal(.EINVAL, "fd \(number) is not a file descriptor number"))
            }
            var a = SecureFlagArguments()
            a.version = s.version.map { raw.field($0, as: UInt64.self) } ?? 0
            a.fd = fd
            a.secure = raw.field(s.secure, as: UInt32.self)
            return .success(layout.kind == .getSecureFlag ? .getSecureFlag(a) : .setSecureFlag(a))
        case .getInfo(let i):
            var a = InfoArguments()
            a.version = i.version.map { raw.field($0, as: UInt64.self) } ?? 0
            a.index = raw.field(i.index, as: UInt32.self)
            return .success(.getInfo(a))
        case let .selectByName(fd, name):
            return .success(.selectByName(fd: raw.field(fd, as: Int32.self), name: .load(from: raw, at: name)))
        case .createFor, .devices, .connect, .handoff, .status:
            let version = raw.field(0, as: UInt64.self)
            guard version == 0 else { return .failure(DecodeRefusal(.EINVAL, "version \(version) is not 0")) }
            switch layout {
            case .createFor:
                typealias F = SmafExtensionRequest.CreateForField
                return Self.deviceFDs(raw, count: F.nDevices, fds: F.deviceFDs).map {
                    .createFor(Self.createArguments(raw, RequestLayout.createForCreate), devices: $0)
                }
            case .devices:
                typealias F = SmafExtensionRequest.DevicesField
                return Self.deviceFDs(raw, count: F.nDevices, fds: F.deviceFDs).map {
                    .devices(length: raw.field(F.length, as: UInt64.self), devices: $0)
                }
            case .connect:
                return .success(.connect(sock: raw.field(SmafExtensionRequest.ConnectField.sock, as: Int32.self)))
            case .handoff:
                return .success(.handoff)
            default:
                return .success(.status)
            }
        }
    }

    /// Writes the reply into `output` (at least `size` bytes) as an echo of
    /// `input` with the results patched in; returns how many bytes to copy
    /// back to the caller.
    public func encode(_ reply: SmafReply, echoing input: UnsafeRawBufferPointer,
                       into output: UnsafeMutableRawBufferPointer) -> Int {
        if case .nothing = reply { return 0 }
        output.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<size]))
        switch (reply, layout) {
        case let (.created(token), .create(c)):
            Self.patchCreate(output, c, token: token, input)
        case let (.created(token), .createFor):
            Self.patchCreate(output, RequestLayout.createForCreate, token: token, input)
        case let (.secureFlag(value), .getSecureFlag(s)):
            output.setField(s.secure, value)
        case let (.info(count, name), .getInfo(i)):
            output.setField(i.count, count)
            name.store(into: output, at: i.name)
        case let (.selected(token), .selectByName(fd, _)):
            if let token { output.setField(fd, token) }
        case let (.devices(a), .devices):
            typealias F = SmafExtensionRequest.DevicesField
            output.setField(F.needs, a.needs)
            output.setField(F.dmaMaskBits, a.dmaMaskBits)
            output.setField(F.align, a.align)
            output.setField(F.allocators, a.allocators)
            output.setField(F.sources, a.sources)
        case let (.connected(version), .connect):
            output.setField(SmafExtensionRequest.ConnectField.protocolVersion, version)
        case let (.handoffSocket(version, path), .handoff):
            typealias F = SmafExtensionRequest.HandoffField
            output.setField(F.protocolVersion, version)
            for i in F.path..<F.reserved2 { output[i] = 0 }
            for (i, b) in path.utf8.prefix(F.reserved2 - F.path - 1).enumerated() { output[F.path + i] = b }
        case let (.status(s), .status):
            typealias F = SmafExtensionRequest.StatusField
            output.setField(F.liveBuffers, s.liveBuffers)
            output.setField(F.liveBytes, s.liveBytes)
            output.setField(F.channels, s.channels)
            output.setField(F.secureBuffers, s.secureBuffers)
            output.setField(F.createdTotal, s.createdTotal)
            output.setField(F.readyAhead, s.readyAhead)
        default:
            preconditionFailure("\(name): reply \(reply) does not fit layout \(layout.kind)")
        }
        return size
    }

    private static func createArguments(_ raw: UnsafeRawBufferPointer, _ c: CreateLayout) -> CreateArguments {
        var a = CreateArguments()
        a.flags = raw.field(c.flags, as: UInt32.self)
        if let v = c.version {
            a.version = raw.field(v, as: UInt64.self)
        } else {
            a.flags &= SmafABI.validCreateFlags  // pre-v8: other bits were ignored
        }
        a.length = raw.unsignedField(c.length)
        if let n = c.name { a.name = .load(from: raw, at: n) }
        return a
    }

    private static func patchCreate(_ out: UnsafeMutableRawBufferPointer, _ c: CreateLayout, token: Int32,
                                    _ input: UnsafeRawBufferPointer) {
        out.setSignedField(c.fd, Int64(token))
        // Visible in the echoed struct, as in the v8+ driver.
        if c.terminatesName, let n = c.name, input[n] != 0 { out[n + SmafABI.maxNameLength - 1] = 0 }
    }

    /// E2BIG for more devices than the struct holds.
    private static func deviceFDs(_ raw: UnsafeRawBufferPointer, count: Int, fds: Int) -> Result<DeviceFDs, DecodeRefusal> {
        let n = raw.field(count, as: UInt32.self)
        guard n <= UInt32(SmafExtensionRequest.maxDevices) else {
            return .failure(DecodeRefusal(.E2BIG, "\(n) devices named; at most \(SmafExtensionRequest.maxDevices) fit"))
        }
        var d = DeviceFDs()
        for i in 0..<Int(n) { d.append(raw.field(fds + 4 * i, as: Int32.self)) }
        return .success(d)
    }
}

extension UnsafeRawBufferPointer {
    /// A 4- or 8-byte unsigned field, widened.
    public func unsignedField(_ f: WireField) -> UInt64 {
        f.width == 8 ? field(f.offset, as: UInt64.self) : UInt64(field(f.offset, as: UInt32.self))
    }
    /// A 4- or 8-byte signed field, widened.
    public func signedField(_ f: WireField) -> Int64 {
        f.width == 8 ? field(f.offset, as: Int64.self) : Int64(field(f.offset, as: Int32.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores `value` into a 4- or 8-byte signed field (it fits: fds and tokens are 32-bit).
    public func setSignedField(_ f: WireField, _ value: Int64) {
        if f.width == 8 { setField(f.offset, value) } else { setField(f.offset, Int32(truncatingIfNeeded: value)) }
    }
}
