// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import Logging
import SmafCheck
import SmafCore
import SmafTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The mutation test of `smafctl check`: the v10 check runs against an
/// in-process smafd (real dispatcher, handoff socket and memfd buffers, this
/// thread as the caller) that plays the kernel's part as CUSE does: struct
/// copied in, copied out only on success, EFAULT for a NULL argument. Each
/// mutant is that device with one deviation from the ABI; the check must
/// fail it on the row that names the deviation and pass the device as is.
final class MutationTests: XCTestCase {
    enum Mutant: String, CaseIterable {
        case wrongErrno, structModifiedOnError, reservedNotEchoed, nameNotPadded, countOffByOne,
             sizeNotRounded, bufferNotZeroed, readOnlyMappableReadWrite, legacyServedUnasked,
             nullArgumentNotEFAULT, pastLastIndexAnswered, badFlagsAccepted, unknownRequestENOTTY,
             newBufferSecure, duplicateName

        /// The row each must fail on (a prefix of the row's name).
        var row: String {
            switch self {
            case .wrongErrno: return "CREATE version 1"
            case .structModifiedOnError: return "GET_INFO index 0xFFFFFFFF"
            case .reservedNotEchoed: return "GET_INFO echoes reserved fields"
            case .nameNotPadded: return "allocator names are NUL-terminated and NUL-padded"
            case .countOffByOne: return "GET_INFO answers every index below count"
            case .sizeNotRounded: return "buffer size is rounded up to pages"
            case .bufferNotZeroed: return "new buffer reads as zeros"
            case .readOnlyMappableReadWrite: return "read-only buffer: writable shared mmap"
            case .legacyServedUnasked: return "legacy v3-v7 CREATE 0xC0505300"
            case .nullArgumentNotEFAULT: return "GET_INFO with a NULL argument"
            case .pastLastIndexAnswered: return "GET_INFO index == count"
            case .badFlagsAccepted: return "CREATE flags 0x40"
            case .unknownRequestENOTTY: return "unknown request"
            case .newBufferSecure: return "GET_SECURE_FLAG on the new buffer"
            case .duplicateName: return "allocator names are distinct"
            }
        }
    }

    var dir = ""
    var server: HandoffChannels!
    var events: EventLoop!
    var lifetime: BufferLifetime!

    override func setUpWithError() throws {
        var template = Array("/tmp/smaf-mutants-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        lifetime = try BufferLifetime(table: BufferTable(), logger: Logger(label: "test"))
        server = try HandoffChannels(directory: "\(dir)/run", name: "smaf", logger: Logger(label: "test"))
        events = EventLoop(channels: server, lifetime: lifetime, logger: Logger(label: "test"))
        try events.start()
    }

    override func tearDown() {
        events.stop()
        _ = try? FileManager.default.removeItem(atPath: dir)
    }

    func check(_ mutant: Mutant?) throws -> [CheckResult] {
        let node = try InProcessNode(server: server, lifetime: lifetime, mutant: mutant)
        defer { node.close() }
        guard case .checked(let names, let results) = V10Check(node: node).run() else {
            XCTFail("\(mutant.map(\.rawValue) ?? "the device"): taken for no SMAF device")
            return []
        }
        XCTAssertEqual(names.first, "smaf-memfd")
        return results
    }

    func testTheDeviceAsItIsPassesEveryRow() throws {
        let results = try check(nil)
        XCTAssertGreaterThanOrEqual(results.count, 27)
        for r in results where !r.passed { XCTFail("\(r.check): expected \(r.expected), got \(r.got)") }
        // Every mutant's row exists, so no mutant can pass by its row being skipped.
        for m in Mutant.allCases {
            XCTAssertTrue(results.contains { $0.check.hasPrefix(m.row) }, "no row '\(m.row)'")
        }
    }

    func testEachMutantFailsOnItsRow() throws {
        XCTAssertGreaterThanOrEqual(Mutant.allCases.count, 10)
        for m in Mutant.allCases {
            let failed = try check(m).filter { !$0.passed }
            XCTAssertTrue(failed.contains { $0.check.hasPrefix(m.row) },
                          "\(m): row '\(m.row)' passed; failed rows: \(failed.map { "\($0.check) (\($0.got))" })")
        }
    }

    func testANodeThatIsNoSmafDeviceIsSaidToBeOne() {
        struct Null: CheckedNode {
            func ioctl(_ request: UInt32, _ bytes: inout [UInt8]) -> Int32 { ENOTTY }
            func ioctlWithNullArgument(_ request: UInt32) -> Int32 { ENOTTY }
            func create(length: UInt64, flags: UInt32) -> (fd: Int32, errno: Int32) { (-1, ENOTTY) }
            var createRoute: String { "" }
            var servedGenerations: AbiGenerations { .default }
        }
        guard case .notASmafDevice(let reason) = V10Check(node: Null()).run() else { return XCTFail("checked /dev/null") }
        XCTAssertEqual(reason, "GET_INFO of index 0 fails with ENOTTY")
    }
}

/// smafd in-process, with the kernel's part of an ioctl played as CUSE plays
/// it, and at most one deviation from the ABI.
final class InProcessNode: CheckedNode {
    typealias Mutant = MutationTests.Mutant
    let device: SmafDevice
    let channel: Int32
    let mutant: Mutant?

    init(server: HandoffChannels, lifetime: BufferLifetime, mutant: Mutant?) throws {
        let registry = AllocatorRegistry(securing: SecurePolicy.testsecure.makeModule())
        try registry.register(MemfdAllocator())
        try registry.register(NamedAllocator(name: "smaf-other", ranking: -1))
        device = SmafDevice(registry: registry, secureModule: SecurePolicy.testsecure.makeModule(), handoff: server,
                            lifetime: lifetime, generations: mutant == .legacyServedUnasked ? .all : .default,
                            logger: Logger(label: "test"))
        self.mutant = mutant
        channel = try Self.connect(server.socketPath)
    }

    func close() { Glibc.close(channel) }

    var me: Caller { Caller(tid: smaf_sys_gettid(), uid: getuid(), gid: getgid()) }

    func ioctl(_ request: UInt32, _ bytes: inout [UInt8]) -> Int32 {
        var input = bytes
        if mutant == .badFlagsAccepted, request == SmafRequest.create.rawValue, var c = SmafCreateData(decoding: input), c.flags == 0o100 {
            c.flags = SmafABI.flagRDWR
            input = c.encoded
        }
        if mutant == .unknownRequestENOTTY, request == SmafABI.iowr(nr: 4, size: 128) { return ENOTTY }
        if mutant == .pastLastIndexAnswered, request == SmafRequest.getInfo.rawValue, var i = SmafInfo(decoding: input),
           i.index == UInt32(device.registry.count) {
            i.index -= 1
            input = i.encoded
        }
        switch device.ioctl(request: request, input: input, caller: me) {
        case .failure(let e):
            if mutant == .structModifiedOnError { bytes[bytes.count - 1] ^= 0xFF }
            if mutant == .wrongErrno, request == SmafRequest.create.rawValue, SmafCreateData(decoding: bytes)?.version == 1 { return EPERM }
            return e.rawValue
        case .success(let out):
            bytes = out
            if request == SmafRequest.getSecureFlag.rawValue, mutant == .newBufferSecure, var s = SmafSecureFlag(decoding: bytes) {
                s.secure = 1
                bytes = s.encoded
            }
            guard request == SmafRequest.getInfo.rawValue, var i = SmafInfo(decoding: bytes) else { return 0 }
            switch mutant {
            case .reservedNotEchoed: i.reserved1 = 0
            case .countOffByOne: i.count += 1
            case .duplicateName where i.index == 1: i.name = FixedBytes(cString: "smaf-memfd")
            case .nameNotPadded:
                // The name copied with its NUL but not padded: the caller's bytes stay behind it.
                let caller = SmafInfo(decoding: input)!.name
                var name = [UInt8](repeating: 0, count: 64)
                for k in 0..<64 { name[k] = k <= i.name.prefixBeforeNUL ? i.name[k] : caller[k] }
                i.name = FixedBytes(name)
            default: return 0
            }
            bytes = i.encoded
            return 0
        }
    }

    func ioctlWithNullArgument(_ request: UInt32) -> Int32 {
        // CUSE's kernel side fails the copy-in before smafd sees the request.
        mutant == .nullArgumentNotEFAULT ? EINVAL : EFAULT
    }

    var createRoute: String { "(in-process smafd)" }
    var servedGenerations: AbiGenerations { .default }

    func create(length: UInt64, flags: UInt32) -> (fd: Int32, errno: Int32) {
        var c = SmafCreateData()
        c.length = length
        c.flags = mutant == .readOnlyMappableReadWrite ? flags | SmafABI.flagRDWR : flags
        var b = c.encoded
        let e = ioctl(SmafRequest.create.rawValue, &b)
        guard e == 0, let token = SmafCreateData(decoding: b)?.fd else { return (-1, e) }
        // A legacy CREATE may have left a buffer in the channel: skip to ours.
        while let (t, fd) = receive() {
            if t != token { Glibc.close(fd); continue }
            if mutant == .sizeNotRounded {
                Glibc.close(fd)
                let exact = smaf_sys_memfd("smaf-mutant")
                _ = ftruncate(exact, off_t(length))
                return (exact, 0)
            }
            if mutant == .bufferNotZeroed, flags & SmafABI.flagRDWR != 0 {
                var one: UInt8 = 1
                _ = pwrite(fd, &one, 1, 100)
            }
            return (fd, 0)
        }
        return (-1, ETIMEDOUT)
    }

    private func receive() -> (Int32, Int32)? {
        var p = pollfd(fd: channel, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 5000) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 64)
        var fd: Int32 = -1
        let n = buf.withUnsafeMutableBytes { smaf_sys_recv_with_fd(channel, $0.baseAddress, $0.count, &fd, 1) }
        guard n == 24 else { return nil }
        return (buf.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: Int32.self) }, fd)
    }

    /// A handoff channel, as libsmaf opens one; returns once the welcome is read.
    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else { throw POSIXError(.ECONNREFUSED) }
        var welcome = [UInt8](repeating: 0, count: 64)
        var none: Int32 = -1
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 5000) == 1,
              welcome.withUnsafeMutableBytes({ smaf_sys_recv_with_fd(fd, $0.baseAddress, $0.count, &none, 1) }) == 24
        else { throw POSIXError(.ETIMEDOUT) }
        return fd
    }
}
