// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys


#if canImport(Glibc)
import Glibc
#endif

/// The client end of smafd's handoff socket (smaf_ext.h): receives buffer
/// fds for CREATE and asks smafd for info and status. One per process.
public final class HandoffClient {
    public let device: SmafDeviceHandle
    /// How the channel was made (the socket's path, or EXT_CONNECT), for messages.
    public let route: String
    private let sock: Int32

    /// Gets a channel to the smafd serving `device` and waits for its welcome:
    /// first by SMAF_IOC_EXT_CONNECT (a socketpair end smafd takes from this
    /// process; needs nothing but the node, so it works in a container that
    /// cannot see smafd's /run), else by path (SMAF_IOC_EXT_HANDOFF names the
    /// socket). EINVAL from both requests means the node is not smafd (e.g. a
    /// kernel driver).
    public init(device: SmafDeviceHandle, timeoutMs: Int32 = 5000) throws(SmafClientError) {
        let (fd, route) = try Self.openChannel(device)
        self.device = device
        self.route = route
        self.sock = fd
        let welcome = try receive(timeoutMs: timeoutMs)
        if welcome.fd >= 0 { close(welcome.fd) }
        guard welcome.token == 0 else { throw SmafClientError(EPROTO, "handoff welcome from \(route)") }
    }

    private static func openChannel(_ device: SmafDeviceHandle) throws(SmafClientError) -> (Int32, String) {
        if let channel = try openByConnect(device) { return channel }
        return try openByPath(device)
    }

    /// SMAF_IOC_EXT_CONNECT: nil when the node does not know it (EINVAL: a
    /// kernel driver or an older smafd; ENOTTY: another device; EOPNOTSUPP:
    /// smafd cannot take fds here), so the caller tries the path.
    private static func openByConnect(_ device: SmafDeviceHandle) throws(SmafClientError) -> (Int32, String)? {
        var sv: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
            throw SmafClientError(errno, "socketpair")
        }
        typealias F = SmafExtensionRequest.ConnectField
        var request = [UInt8](repeating: 0, count: SmafExtensionRequest.connect.structSize)
        request.withUnsafeMutableBytes { $0.storeBytes(of: sv[1], toByteOffset: F.sock, as: Int32.self) }
        let e = device.raw(SmafExtensionRequest.connect.rawValue, &request)
        // smafd holds its own duplicate of the end it took; ours must go, or
        // the channel would never see smafd hang up.
        close(sv[1])
        guard e == 0 else {
            close(sv[0])
            if e == EINVAL || e == ENOTTY || e == EOPNOTSUPP { return nil }
            throw SmafClientError(e, "SMAF_IOC_EXT_CONNECT on \(device.path)")
        }
        let proto = request.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: F.protocolVersion, as: UInt32.self) }
        guard proto == HandoffProtocol.version else {
            close(sv[0])
            throw SmafClientError(EPROTO, "SMAF_IOC_EXT_CONNECT on \(device.path): handoff protocol \(proto)")
        }
        return (sv[0], "the channel of SMAF_IOC_EXT_CONNECT on \(device.path)")
    }

    /// SMAF_IOC_EXT_HANDOFF, then connect() to the socket it names.
    private static func openByPath(_ device: SmafDeviceHandle) throws(SmafClientError) -> (Int32, String) {
        var query = [UInt8](repeating: 0, count: SmafExtensionRequest.handoff.structSize)
        let e = device.raw(SmafExtensionRequest.handoff.rawValue, &query)
        guard e == 0 else { throw SmafClientError(e, "SMAF_IOC_EXT_HANDOFF on \(device.path)") }
        typealias F = SmafExtensionRequest.HandoffField
        let path = String(decoding: query[F.path..<F.reserved2].prefix { $0 != 0 }, as: UTF8.self)
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SmafClientError(errno, "socket") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let err = errno
            close(fd)
            throw SmafClientError(err, "connect \(path)")
        }
        return (fd, path)
    }

    deinit { close(sock) }

    public struct Message {
        public let token: Int32
        public let flags: UInt32
        public let length: UInt64
        public let fd: Int32
        public let body: [UInt8]
    }

    /// One message, waiting up to `timeoutMs`.
    public func receive(timeoutMs: Int32 = 5000) throws(SmafClientError) -> Message {
        var p = pollfd(fd: sock, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { throw SmafClientError(ETIMEDOUT, "waiting for smafd on \(route)") }
        var buf = [UInt8](repeating: 0, count: HandoffProtocol.queryMax)
        var fd: Int32 = -1
        let n = buf.withUnsafeMutableBytes { smaf_sys_recv_with_fd(sock, $0.baseAddress, $0.count, &fd, 1) }
        guard n >= HandoffProtocol.messageSize else {
            if fd >= 0 { close(fd) }
            throw SmafClientError(n < 0 ? errno : EPROTO, "reading from \(route)")
        }
        let u32 = { (o: Int) in buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) } }
        guard u32(0) == HandoffProtocol.magic, u32(4) == HandoffProtocol.version else {
            if fd >= 0 { close(fd) }
            throw SmafClientError(EPROTO, "message from \(route)")
        }
        let length = buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
        return Message(token: Int32(bitPattern: u32(8)), flags: u32(12), length: length, fd: fd,
                       body: Array(buf[HandoffProtocol.messageSize..<n]))
    }

    /// CREATE with handoff: the buffer's fd (owned by the caller) and the
    /// struct as the ioctl returned it, with `fd` replaced by the real fd.
    /// With `devices` (fds of this process) or `forDevices`, it is
    /// SMAF_IOC_EXT_CREATE_FOR: smafd picks an allocator they can all use.
    public func create(length: UInt64, flags: UInt32, name: String = "", devices: [Int32] = [],
                       forDevices: Bool = false) throws(SmafClientError) -> (fd: Int32, data: SmafCreateData) {
        var data = SmafCreateData()
        data.length = length
        data.flags = flags
        data.name = FixedBytes(cString: name)
        if !devices.isEmpty || forDevices {
            // SMAF_IOC_EXT_CREATE_FOR: the create struct after the version,
            // then the device count and fds.
            typealias F = SmafExtensionRequest.CreateForField
            var bytes = [UInt8](repeating: 0, count: SmafExtensionRequest.createFor.structSize)
            bytes.replaceSubrange(F.create..<(F.create + SmafCreateData.wireSize), with: data.encoded)
            bytes.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: UInt32(devices.count), toByteOffset: F.nDevices, as: UInt32.self)
                for (i, fd) in devices.prefix(SmafExtensionRequest.maxDevices).enumerated() {
                    raw.storeBytes(of: fd, toByteOffset: F.deviceFDs + 4 * i, as: Int32.self)
                }
            }
            let e = device.raw(SmafExtensionRequest.createFor.rawValue, &bytes)
            guard e == 0 else { throw SmafClientError(e, "SMAF_IOC_EXT_CREATE_FOR") }
            data = SmafCreateData(decoding: Array(bytes[F.create..<(F.create + SmafCreateData.wireSize)]))!
        } else {
            let e = device.ioctl(SmafRequest.create.rawValue, &data)
            guard e == 0 else { throw SmafClientError(e, "SMAF_IOC_CREATE") }
        }
        while true {
            let m = try receive()
            if m.token == data.fd {
                guard m.fd >= 0 else { throw SmafClientError(EPROTO, "buffer message without an fd") }
                if flags & SmafABI.flagCLOEXEC == 0 { _ = fcntl(m.fd, F_SETFD, 0) }
                data.fd = m.fd
                return (m.fd, data)
            }
            if m.fd >= 0 { close(m.fd) }  // a stale message: not ours
        }
    }

    /// A CREATE-like request of any generation, as raw struct bytes whose
    /// `fdField` smafd fills with a token: issues it, receives the buffer
    /// and puts its fd into `bytes` (and returns it). Errno on failure.
    public func createRaw(_ request: UInt32, _ bytes: inout [UInt8], fdField: WireField) -> Result<Int32, SmafClientError> {
        let e = device.raw(request, &bytes)
        guard e == 0 else { return .failure(SmafClientError(e, "request 0x\(String(request, radix: 16))")) }
        let token = bytes.withUnsafeBytes { Int32(truncatingIfNeeded: $0.signedField(fdField)) }
        while true {
            let m: Message
            do { m = try receive() } catch { return .failure(error) }
            if m.token == token {
                guard m.fd >= 0 else { return .failure(SmafClientError(EPROTO, "buffer message without an fd")) }
                bytes.withUnsafeMutableBytes { $0.setSignedField(fdField, Int64(m.fd)) }
                return .success(m.fd)
            }
            if m.fd >= 0 { close(m.fd) }
        }
    }

    /// An info, status or buffer answer (JSON text); `argument` goes in the
    /// message's length field (queryBuffer: an fd number of this process).
    public func query(_ kind: UInt32, argument: UInt64 = 0) throws(SmafClientError) -> String {
        var msg = [UInt8](repeating: 0, count: HandoffProtocol.messageSize)
        msg.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: HandoffProtocol.magic, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: HandoffProtocol.version, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: HandoffProtocol.queryToken, toByteOffset: 8, as: Int32.self)
            raw.storeBytes(of: kind, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: argument, toByteOffset: 16, as: UInt64.self)
        }
        let n = msg.withUnsafeBytes { send(sock, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == msg.count else { throw SmafClientError(errno, "sending a query to \(route)") }
        while true {
            let m = try receive()
            if m.fd >= 0 { close(m.fd) }
            if m.token == HandoffProtocol.queryToken && m.flags == kind {
                guard m.length > 0, Int(m.length) == m.body.count else { throw SmafClientError(EPROTO, "query \(kind) answer") }
                return String(decoding: m.body, as: UTF8.self)
            }
        }
    }
}
