// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import Logging
import SmafCore
import SmafTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// CREATE end to end in one process: the real handoff socket, memfd
/// allocation, SCM_RIGHTS delivery, inotify lifetime and the secure modules,
/// with this very thread as the caller (so /proc look-ups are real).
final class HandoffTests: XCTestCase {
    var dir = ""
    var server: HandoffChannels!
    var events: EventLoop!
    var lifetime: BufferLifetime!
    var logs: CapturedLogs!

    override func setUpWithError() throws {
        var template = Array("/tmp/smaf-handoff-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        logs = CapturedLogs()
        lifetime = try BufferLifetime(table: BufferTable(), logger: logs.logger)
        server = try HandoffChannels(directory: "\(dir)/run", name: "smaf", logger: logs.logger)
        events = EventLoop(channels: server, lifetime: lifetime, logger: logs.logger)
        try events.start()
    }

    override func tearDown() {
        events.stop()
        XCTAssertFalse(FileManager.default.fileExists(atPath: server.socketPath), "stop() removes the socket")
        _ = try? FileManager.default.removeItem(atPath: dir)
    }

    var me: Caller { Caller(tid: smaf_sys_gettid(), uid: getuid(), gid: getgid()) }

    func device(_ policy: SecurePolicy = .testsecure, allocators: [any Allocator] = [MemfdAllocator()],
                        limits: Limits = .defaults, pool: MemfdPool? = nil,
                        deviceFacts: any DeviceFactSource = SystemDeviceFacts(),
                        generations: AbiGenerations = .default) throws -> SmafDevice {
        let module = policy.makeModule()
        let r = AllocatorRegistry(securing: module)
        for a in allocators { try r.register(a) }
        return SmafDevice(registry: r, secureModule: module, handoff: server, lifetime: lifetime,
                          pool: pool, limits: limits, deviceFacts: deviceFacts, generations: generations, logger: logs.logger)
    }

    /// Connects like libsmaf does and waits for the welcome.
    func connectChannel() throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in server.socketPath.utf8.enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(r, 0, "connect: \(String(cString: strerror(errno)))")
        let (token, passed, _) = try receive(fd)
        XCTAssertEqual(token, 0, "the welcome carries token 0")
        XCTAssertEqual(passed, -1, "and no fd")
        return fd
    }

    func receive(_ sock: Int32) throws -> (token: Int32, fd: Int32, length: UInt64) {
        var p = pollfd(fd: sock, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 5000) == 1 else { throw NoMessage() }
        var buf = [UInt8](repeating: 0, count: 64)
        var fd: Int32 = -1
        let n = buf.withUnsafeMutableBytes { smaf_sys_recv_with_fd(sock, $0.baseAddress, $0.count, &fd, 1) }
        XCTAssertEqual(n, 24)
        let magic: UInt32 = load(buf, 0), proto: UInt32 = load(buf, 4)
        XCTAssertEqual(magic, 0x4641_4D53)
        XCTAssertEqual(proto, 1)
        return (load(buf, 8), fd, load(buf, 16))
    }

    func load<T>(_ b: [UInt8], _ off: Int) -> T { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off, as: T.self) } }

    func create(_ d: SmafDevice, length: UInt64 = 16385, flags: UInt32 = 0x80002, name: String = "") -> Result<SmafCreateData, SmafErrno> {
        d.ioctl(request: SmafRequest.create.rawValue, input: createData(length: length, flags: flags, name: name).encoded, caller: me)
            .map { SmafCreateData(decoding: $0)! }
    }

    func status(_ d: SmafDevice) -> (buffers: UInt64, bytes: UInt64, channels: UInt32, secure: UInt32, total: UInt64) {
        let out = try! d.ioctl(request: SmafExtensionRequest.status.rawValue, input: [UInt8](repeating: 0, count: 128), caller: me).get()
        return (load(out, 8), load(out, 16), load(out, 24), load(out, 28), load(out, 32))
    }

    func secure(_ d: SmafDevice, _ fd: Int32, set value: UInt32? = nil) -> Result<UInt32, SmafErrno> {
        var s = SmafSecureFlag()
        s.fd = fd
        if let value {
            s.secure = value
            return d.ioctl(request: SmafRequest.setSecureFlag.rawValue, input: s.encoded, caller: me).map { _ in value }
        }
        return d.ioctl(request: SmafRequest.getSecureFlag.rawValue, input: s.encoded, caller: me).map { SmafSecureFlag(decoding: $0)!.secure }
    }

    func waitUntilNoBuffers(_ d: SmafDevice) {
        for _ in 0..<200 where status(d).buffers != 0 { usleep(10_000) }
    }

    func testCreateDeliversAMappableSealedBufferAndForgetsItWhenClosed() throws {
        let d = try device()
        XCTAssertEqual(create(d).failureErrno, .ENOTCONN, "no channel yet")
        let sock = try connectChannel()
        defer { close(sock) }
        for _ in 0..<100 where status(d).channels != 1 { usleep(10_000) }
        XCTAssertEqual(status(d).channels, 1)

        let out = try create(d, name: "smaf-memfd").get()
        XCTAssertLessThanOrEqual(out.fd, -2, "the fd field carries a token, never an fd number")
        XCTAssertEqual(out.length, 16385, "length is echoed unrounded")
        let (token, fd, length) = try receive(sock)
        XCTAssertEqual(token, out.fd)
        XCTAssertEqual(length, 20480)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var st = stat()
        XCTAssertEqual(fstat(fd, &st), 0)
        XCTAssertEqual(st.st_size, 20480)
        let seals = smaf_sys_get_seals(fd)
        XCTAssertEqual(UInt32(seals) & (SMAF_SEAL_SHRINK | SMAF_SEAL_GROW), SMAF_SEAL_SHRINK | SMAF_SEAL_GROW)
        XCTAssertEqual(ftruncate(fd, 4096), -1, "size is sealed")
        let map = mmap(nil, 20480, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        XCTAssertNotEqual(map, MAP_FAILED)
        let bytes = map!.assumingMemoryBound(to: UInt8.self)
        XCTAssertEqual(bytes[20479], 0, "zero-filled")
        bytes[0] = 0xAB
        XCTAssertEqual(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR)

        var s = status(d)
        XCTAssertEqual(s.buffers, 1)
        XCTAssertEqual(s.bytes, 20480)
        XCTAssertEqual(s.total, 1)
        XCTAssertEqual(secure(d, fd).successValue, 0)
        XCTAssertEqual(secure(d, fd, set: 1).successValue, 1)
        XCTAssertEqual(secure(d, fd).successValue, 1)
        XCTAssertEqual(status(d).secure, 1)

        // The mapping alone keeps the buffer alive; the record goes with the last of both.
        close(fd)
        usleep(50_000)
        lifetime.drain()
        XCTAssertEqual(status(d).buffers, 1, "still mapped")
        munmap(map, 20480)
        waitUntilNoBuffers(d)
        s = status(d)
        XCTAssertEqual(s.buffers, 0)
        XCTAssertEqual(s.bytes, 0)
    }

    func testReadOnlyCreateGivesAReadOnlyFile() throws {
        let d = try device()
        let sock = try connectChannel()
        defer { close(sock) }
        let out = try create(d, flags: 0).get()
        let (token, fd, _) = try receive(sock)
        XCTAssertEqual(token, out.fd)
        defer { close(fd) }
        XCTAssertEqual(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY)
        XCTAssertEqual(mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED)
        XCTAssertEqual(errno, EACCES)
        let ro = mmap(nil, 4096, PROT_READ, MAP_SHARED, fd, 0)
        XCTAssertNotEqual(ro, MAP_FAILED)
        munmap(ro, 4096)
    }

    func testDenyCPUSealsWritesAndRefusesWhileWritablyMapped() throws {
        let d = try device(.denyCPU)
        let sock = try connectChannel()
        defer { close(sock) }
        _ = try create(d, length: 8192).get()
        let (_, fd, _) = try receive(sock)
        defer { close(fd) }
        let map = mmap(nil, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        XCTAssertNotEqual(map, MAP_FAILED)
        XCTAssertEqual(secure(d, fd, set: 1).failureErrno, .EBUSY, "a writable mapping exists")
        XCTAssertEqual(secure(d, fd).successValue, 0, "a refused SET changes nothing")
        munmap(map, 8192)
        XCTAssertEqual(secure(d, fd, set: 1).successValue, 1)
        XCTAssertEqual(secure(d, fd).successValue, 1)
        XCTAssertEqual(mmap(nil, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED)
        XCTAssertEqual(errno, EPERM)
        let ro = mmap(nil, 8192, PROT_READ, MAP_SHARED, fd, 0)
        XCTAssertNotEqual(ro, MAP_FAILED, "reading stays possible")
        munmap(ro, 8192)
        XCTAssertEqual(secure(d, fd, set: 0).successValue, 0, "un-securing clears the flag...")
        XCTAssertEqual(mmap(nil, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED, "...but seals are permanent")
    }

    func testAllocatorChoiceAndFailures() throws {
        let sock = try connectChannel()
        defer { close(sock) }
        let empty = try device(allocators: [])
        XCTAssertEqual(create(empty).failureErrno, .EINVAL, "no allocator registered")
        let d = try device(allocators: [MemfdAllocator(), NamedAllocator(name: "smaf-cma", ranking: 0)])
        XCTAssertEqual(create(d, name: "deadbeef").failureErrno, .EINVAL)
        XCTAssertNotNil(create(d, name: "smaf-cma").successValue)
        let (_, fd, _) = try receive(sock)
        close(fd)
        let r = AllocatorRegistry()
        try r.register(NamedAllocator(name: "cpu-top", ranking: 9))
        try r.register(NamedAllocator.dmabuf("b-cma", ranking: 0, contiguous: true, maxSize: 1 << 21, addressBits: 32))
        try r.register(NamedAllocator.dmabuf("a-sg", ranking: 1, addressBits: 36))
        XCTAssertEqual(r.choose()?.name, "cpu-top", "no devices: first in rank order")
        var camera = DeviceFacts(device: "c 81:1")
        XCTAssertEqual(r.choose(for: DeviceConstraints([camera]), length: 4096)?.name, "a-sg", "any device: a dma-buf")
        camera.contiguous = true
        XCTAssertEqual(r.choose(for: DeviceConstraints([camera]), length: 4096)?.name, "b-cma")
        XCTAssertNil(r.choose(for: DeviceConstraints([camera]), length: 1 << 22), "beyond the contiguous allocator's size")
        var gpu = DeviceFacts(device: "c 226:0")
        gpu.dmaMaskBits = 30
        XCTAssertNil(r.choose(for: DeviceConstraints([gpu]), length: 4096), "no allocator's memory lies below 2^30")
        gpu.iommu = true
        XCTAssertEqual(r.choose(for: DeviceConstraints([gpu]), length: 4096)?.name, "a-sg", "an IOMMU lifts the mask")
        XCTAssertEqual(r.choose(for: DeviceConstraints([camera, gpu]), length: 4096)?.name, "b-cma", "the union of needs")
        gpu.align = 1 << 20
        XCTAssertNil(r.choose(for: DeviceConstraints([camera, gpu]), length: 4096), "no 1 MiB alignment")
        XCTAssertEqual(r.lookup("a-sg")?.unmetConstraint(DeviceConstraints([camera]), length: 4096),
                       "physically contiguous memory (a-sg is scatter-gather)")
    }

    func testHandoffQueryAndChannelLoss() throws {
        let d = try device()
        let out = try d.ioctl(request: SmafExtensionRequest.handoff.rawValue, input: [UInt8](repeating: 0, count: 128), caller: me).get()
        let proto: UInt32 = load(out, 8)
        XCTAssertEqual(proto, 1)
        XCTAssertEqual(String(decoding: out[16..<124].prefix { $0 != 0 }, as: UTF8.self), server.socketPath)
        var bad = [UInt8](repeating: 0, count: 128)
        bad[0] = 1
        XCTAssertEqual(d.ioctl(request: SmafExtensionRequest.handoff.rawValue, input: bad, caller: me).failureErrno, .EINVAL)
        let sock = try connectChannel()
        XCTAssertNotNil(create(d).successValue)
        close(sock)  // the undelivered buffer dies with the socket
        for _ in 0..<200 where status(d).channels != 0 { usleep(10_000) }
        XCTAssertEqual(status(d).channels, 0)
        XCTAssertEqual(create(d).failureErrno, .ENOTCONN)
        waitUntilNoBuffers(d)
        XCTAssertEqual(status(d).buffers, 0, "a buffer lost in a closed socket is forgotten")
    }

    func testQueriesAnswerWithInfoAndStatusJSON() throws {
        let d = try device(allocators: [MemfdAllocator(), NamedAllocator(name: "smaf-cma", ranking: 3)])
        events.setQueryResponder { q in d.answer(q) }
        let sock = try connectChannel()
        defer { close(sock) }
        _ = try create(d).get()
        let (_, fd, _) = try receive(sock)
        defer { close(fd) }
        XCTAssertEqual(create(d, name: "nope").failureErrno, .EINVAL)

        func ask(_ kind: UInt32) throws -> [String: Any] {
            var q = [UInt8](repeating: 0, count: 24)
            q.withUnsafeMutableBytes { r in
                r.storeBytes(of: HandoffProtocol.magic, toByteOffset: 0, as: UInt32.self)
                r.storeBytes(of: HandoffProtocol.version, toByteOffset: 4, as: UInt32.self)
                r.storeBytes(of: HandoffProtocol.queryToken, toByteOffset: 8, as: Int32.self)
                r.storeBytes(of: kind, toByteOffset: 12, as: UInt32.self)
            }
            XCTAssertEqual(q.withUnsafeBytes { send(sock, $0.baseAddress, 24, 0) }, 24)
            var p = pollfd(fd: sock, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 5000) == 1 else { throw NoMessage() }
            var buf = [UInt8](repeating: 0, count: 65536)
            let n = buf.withUnsafeMutableBytes { recv(sock, $0.baseAddress, $0.count, 0) }
            let length: UInt64 = load(buf, 16)
            let token: Int32 = load(buf, 8)
            XCTAssertEqual(token, -1)
            XCTAssertEqual(Int(length), n - 24)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buf[24..<n])) as? [String: Any])
        }
        let info = try ask(HandoffProtocol.queryInfo)
        XCTAssertEqual((info["allocators"] as? [[String: Any]])?.map { $0["name"] as? String }, ["smaf-cma", "smaf-memfd"])
        XCTAssertEqual(info["secure_module"] as? String, "testsecure")
        XCTAssertEqual(info["handoff_socket"] as? String, server.socketPath)
        let status = try ask(HandoffProtocol.queryStatus)
        XCTAssertEqual(status["live_buffers"] as? Int, 1)
        XCTAssertEqual(status["live_bytes"] as? Int, 20480)
        XCTAssertEqual((status["by_uid"] as? [[String: Any]])?.first?["uid"] as? Int, Int(getuid()))
        XCTAssertEqual((status["requests"] as? [String: Any])?["SMAF_IOC_CREATE"] as? Int, 2)
        XCTAssertEqual((status["refusals"] as? [String: Any])?["EINVAL"] as? Int, 1)
        XCTAssertEqual(status["handoff_connections"] as? Int, 1)
    }

    func testLimitsRefuseWithTheirErrnoAndFreeOnClose() throws {
        let d = try device(limits: Limits(maxBufferSize: 8192, maxBuffersPerUser: 2, maxBytesPerUser: 10000))
        let sock = try connectChannel()
        defer { close(sock) }
        XCTAssertEqual(create(d, length: 8193).failureErrno, .ENOMEM, "over --max-buffer-size")
        XCTAssertNotNil(create(d, length: 4096).successValue)
        let a = try receive(sock).fd
        XCTAssertEqual(create(d, length: 8192).failureErrno, .ENOMEM, "4096 + 8192 bytes > --max-bytes-per-user 10000")
        XCTAssertNotNil(create(d, length: 4096).successValue)
        let b = try receive(sock).fd
        XCTAssertEqual(create(d, length: 1).failureErrno, .EMFILE, "a third live buffer")
        XCTAssertTrue(logs.messages(at: .debug).contains { $0.contains("limit: uid \(getuid()) is at --max-buffers-per-user 2") })
        close(a)
        close(b)
        waitUntilNoBuffers(d)
        XCTAssertNotNil(create(d, length: 8192).successValue, "closing buffers frees the quota")
        close(try receive(sock).fd)
    }

    func testPreparedMemfdsServeCreatesAndAreRefilled() throws {
        let pool = MemfdPool(lifetime: lifetime, capacity: 4)
        pool.refill()
        XCTAssertEqual(pool.count, 4)
        let d = try device(pool: pool)
        let sock = try connectChannel()
        defer { close(sock) }
        var fds: [Int32] = []
        for _ in 0..<6 {  // more than the pool holds: the rest are made on the spot
            XCTAssertNotNil(create(d, length: 12288).successValue)
            let (_, fd, length) = try receive(sock)
            XCTAssertEqual(length, 12288)
            var st = stat()
            XCTAssertEqual(fstat(fd, &st), 0)
            XCTAssertEqual(st.st_size, 12288)
            XCTAssertEqual(ftruncate(fd, 4096), -1, "sealed like any buffer")
            fds.append(fd)
        }
        XCTAssertEqual(pool.count, 0)
        XCTAssertEqual(status(d).buffers, 6)
        for fd in fds { close(fd) }
        waitUntilNoBuffers(d)
        XCTAssertEqual(status(d).buffers, 0, "pooled identities are forgotten like any other")
        pool.close()
    }

    func testSocketDirectoryMustNotBeWritableByOthers() throws {
        let open = "\(dir)/open"
        XCTAssertEqual(mkdir(open, 0o777), 0)
        XCTAssertEqual(chmod(open, 0o777), 0)
        XCTAssertThrowsError(try HandoffChannels(directory: open, name: "smaf", logger: logs.logger))
    }
}

struct NoMessage: Error, CustomStringConvertible {
    var description: String { "no handoff message arrived within 5 s" }
}
