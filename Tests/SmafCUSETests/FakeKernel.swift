// SPDX-License-Identifier: MIT
import SmafABI
import CFuseKernel
import Foundation
import Logging
import SmafCUSE
import SmafCore
import SmafTestSupport
import XCTest

/// Plays the kernel's side of /dev/cuse over one end of a SOCK_SEQPACKET
/// socketpair (one message per read, like /dev/cuse), speaking the wire
/// format of <linux/fuse.h>.
final class FakeKernel {
    let fd: Int32
    private var nextUnique: UInt64 = 1

    init(fd: Int32) { self.fd = fd }

    struct Reply {
        let unique: UInt64
        let error: Int32  // positive errno, 0 on success
        let body: [UInt8]
    }

    /// Who the request claims to come from; by default this very thread, so
    /// smafd's /proc look-ups see the test's own fd table.
    struct Origin {
        var pid = UInt32(smaf_test_gettid())
        var uid = UInt32(getuid())
        var gid = UInt32(getgid())
    }

    @discardableResult
    func send(opcode: UInt32, body: [UInt8], origin: Origin = Origin()) -> UInt64 {
        let unique = nextUnique
        nextUnique += 1
        var h = fuse_in_header()
        h.len = UInt32(MemoryLayout<fuse_in_header>.size + body.count)
        h.opcode = opcode
        h.unique = unique
        h.nodeid = 0
        h.uid = origin.uid
        h.gid = origin.gid
        h.pid = origin.pid
        var msg = bytes(of: h)
        msg += body
        let n = msg.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        precondition(n == msg.count, "send failed: \(String(cString: strerror(errno)))")
        return unique
    }

    func receive(timeoutMs: Int32 = 5000) -> Reply? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 1 << 17)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= MemoryLayout<fuse_out_header>.size else { return nil }
        let h: fuse_out_header = load(buf, at: 0)
        precondition(Int(h.len) == n, "reply length field \(h.len) != message size \(n)")
        return Reply(unique: h.unique, error: -h.error,
                     body: Array(buf[MemoryLayout<fuse_out_header>.size..<n]))
    }

    func call(opcode: UInt32, body: [UInt8], origin: Origin = Origin()) -> Reply {
        let u = send(opcode: opcode, body: body, origin: origin)
        guard let r = receive() else { fatalError("no reply to opcode \(opcode) within 5 s") }
        precondition(r.unique == u, "reply to \(r.unique), expected \(u)")
        return r
    }

    // MARK: The requests the kernel makes on behalf of /dev/smaf users

    /// CUSE_INIT as the 6.x kernel sends it; returns the reply and the device info strings.
    func cuseInit() -> (out: cuse_init_out, info: [String]) {
        var i = cuse_init_in()
        i.major = 7
        i.minor = 31
        let r = call(opcode: UInt32(CUSE_INIT.rawValue), body: bytes(of: i))
        precondition(r.error == 0, "CUSE_INIT failed: \(r.error)")
        let out: cuse_init_out = load(r.body, at: 0)
        let infoBytes = r.body[MemoryLayout<cuse_init_out>.size...]
        let info = infoBytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return (out, info)
    }

    func open(flags: UInt32 = UInt32(O_RDWR)) -> (error: Int32, fh: UInt64) {
        var i = fuse_open_in()
        i.flags = flags
        let r = call(opcode: UInt32(FUSE_OPEN.rawValue), body: bytes(of: i))
        guard r.error == 0 else { return (r.error, 0) }
        let o: fuse_open_out = load(r.body, at: 0)
        return (0, o.fh)
    }

    func ioctlBody(fh: UInt64, cmd: UInt32, input: [UInt8], outSize: Int, flags: UInt32 = 0) -> [UInt8] {
        var i = fuse_ioctl_in()
        i.fh = fh
        i.flags = flags
        i.cmd = cmd
        i.arg = 0x7fff_0000_1000  // a user address; restricted mode never dereferences it
        i.in_size = UInt32(input.count)
        i.out_size = UInt32(outSize)
        return bytes(of: i) + input
    }

    /// A restricted-mode ioctl: returns the errno (0 on success) and the bytes
    /// the kernel would copy back to the caller's struct.
    func ioctl(fh: UInt64, cmd: UInt32, input: [UInt8], outSize: Int? = nil, flags: UInt32 = 0,
               origin: Origin = Origin()) -> (errno: Int32, result: Int32, out: [UInt8]) {
        let r = call(opcode: UInt32(FUSE_IOCTL.rawValue),
                     body: ioctlBody(fh: fh, cmd: cmd, input: input, outSize: outSize ?? input.count, flags: flags),
                     origin: origin)
        return decodeIoctlReply(r)
    }

    func decodeIoctlReply(_ r: Reply) -> (errno: Int32, result: Int32, out: [UInt8]) {
        guard r.error == 0 else { return (r.error, -1, []) }
        let o: fuse_ioctl_out = load(r.body, at: 0)
        return (0, o.result, Array(r.body[MemoryLayout<fuse_ioctl_out>.size...]))
    }

    /// Typed front for the v10 structs.
    func smafIoctl<T: SmafWireStruct>(fh: UInt64, _ req: SmafRequest, _ value: T) -> (errno: Int32, out: T?) {
        let r = ioctl(fh: fh, cmd: req.rawValue, input: value.encoded)
        return (r.errno, T(decoding: r.out))
    }

    func read(fh: UInt64, size: UInt32 = 16) -> Int32 {
        var i = fuse_read_in()
        i.fh = fh
        i.size = size
        return call(opcode: UInt32(FUSE_READ.rawValue), body: bytes(of: i)).error
    }

    func write(fh: UInt64, data: [UInt8]) -> Int32 {
        var i = fuse_write_in()
        i.fh = fh
        i.size = UInt32(data.count)
        return call(opcode: UInt32(FUSE_WRITE.rawValue), body: bytes(of: i) + data).error
    }

    func release(fh: UInt64) -> Int32 {
        var i = fuse_release_in()
        i.fh = fh
        return call(opcode: UInt32(FUSE_RELEASE.rawValue), body: bytes(of: i)).error
    }
}

func bytes<T>(of value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

func load<T>(_ buf: [UInt8], at offset: Int) -> T {
    buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
}

/// A real CUSEServer (real libfuse session, multi-threaded loop) whose
/// transport is a socketpair, with a FakeKernel on the other end.
final class CUSEHarness {
    let server: CUSEServer
    let kernel: FakeKernel
    let device: SmafDevice
    private let done = DispatchSemaphore(value: 0)
    private var loopResult: Int32 = -999
    /// How many times init_done reported the device ready.
    let readiness = Counter()
    private var stopped = false

    init(devname: String = "smaf", secure: SecurePolicy = .testsecure,
         allocators: [any Allocator] = [MemfdAllocator()], logger: Logger = Logger(label: "test")) throws {
        var sv: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
            throw CUSEError("socketpair: \(errno)")
        }
        let registry = AllocatorRegistry()
        for a in allocators { try registry.register(a) }
        device = SmafDevice(registry: registry, secureModule: secure.makeModule(), logger: logger)
        kernel = FakeKernel(fd: sv[1])
        server = CUSEServer(device: device, deviceName: devname, logger: logger) { [readiness] in readiness.increment() }
        try server.makeSession()
        try server.attach(messageSocketFD: sv[0])
        let t = Thread { [server, done] in
            let r = server.run(multithreaded: true)
            self.loopResult = r
            done.signal()
        }
        t.start()
    }

    /// Closes the kernel's end; the session must notice and end cleanly.
    func stop() -> Int32 {
        guard !stopped else { return loopResult }
        stopped = true
        close(kernel.fd)
        guard done.wait(timeout: .now() + 10) == .success else { return -998 }
        server.close()
        return loopResult
    }

    deinit { _ = stop() }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
