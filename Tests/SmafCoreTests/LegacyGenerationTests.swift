// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import SmafCore
import SmafTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The older generations' request numbers (--abi-generations), translated
/// onto the v10 operations, and SMAF_IOC_EXT_CONNECT; in-process, with the
/// real handoff.
extension HandoffTests {
    func raw(_ d: SmafDevice, _ number: UInt32, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Result<[UInt8], SmafErrno> {
        var b = [UInt8](repeating: 0, count: RequestDescriptor.lookup(number)?.size ?? 128)
        b.withUnsafeMutableBytes(fill)
        return d.ioctl(request: number, input: b, caller: me)
    }

    func testLegacyNumbersAreRefusedByDefaultAndTheLogNamesTheGeneration() throws {
        let d = try device()
        for r in RequestDescriptor.legacy {
            XCTAssertEqual(raw(d, r.number) { _ in }.failureErrno, .EINVAL, r.description)
        }
        XCTAssertTrue(logs.contains("legacy request (v3-v7 CREATE (80-byte struct, LP64)) is not enabled: smafd --abi-generations v3 or v7 serves it"))
        XCTAssertTrue(logs.contains("legacy request (S64 GET_SECURE_FLAG (68-byte struct, i386)) is not enabled"))
        // v7 alone: v3-v7 numbers are served, v2 and S64 stay refused.
        let v7 = try device(generations: try AbiGenerations(parsing: "v7"))
        XCTAssertEqual(raw(v7, 0xC048_5303) { _ in }.map(\.count), .success(72))
        XCTAssertEqual(raw(v7, 0xC010_5300) { _ in }.failureErrno, .EINVAL)
        XCTAssertEqual(raw(v7, 0xC088_5300) { _ in }.failureErrno, .EINVAL)
    }

    func testGenerationListsParse() throws {
        XCTAssertEqual(try AbiGenerations(parsing: "all"), .all)
        XCTAssertEqual(try AbiGenerations(parsing: "v10"), .default)
        XCTAssertEqual(try AbiGenerations(parsing: "V5, s64").names, ["v3", "v10", "s64"], "v4-v6 are v3; v10 always")
        XCTAssertThrowsError(try AbiGenerations(parsing: "v2,v11"))
    }

    /// v3-v7 CREATE in both layouts: a buffer comes over the channel under
    /// the token the legacy fd field returns; flags are not validated.
    func testV3CreateInBothLayoutsHandsOverABuffer() throws {
        let d = try device(generations: .all)
        let sock = try connectChannel()
        defer { close(sock) }
        for (number, lengthWidth, nameAt, fdAt) in [(UInt32(0xC050_5300), 8, 12, 76), (0xC04C_5300, 4, 8, 72)] {
            let out = try raw(d, number) { b in
                if lengthWidth == 8 { b.storeBytes(of: UInt64(8193), toByteOffset: 0, as: UInt64.self) }
                else { b.storeBytes(of: UInt32(8193), toByteOffset: 0, as: UInt32.self) }
                b.storeBytes(of: UInt32(0x80042), toByteOffset: lengthWidth, as: UInt32.self)  // O_CREAT bit: ignored pre-v8
                for (i, c) in "smaf-memfd".utf8.enumerated() { b[nameAt + i] = c }
            }.get()
            let token: Int32 = load(out, fdAt)
            XCTAssertLessThanOrEqual(token, -2)
            XCTAssertEqual(load(out, 0) as UInt32, 8193, "the length is echoed")
            let (got, fd, length) = try receive(sock)
            XCTAssertEqual(got, token)
            XCTAssertEqual(length, 12288, "page-rounded")
            var st = stat()
            XCTAssertEqual(fstat(fd, &st), 0)
            XCTAssertEqual(st.st_size, 12288)
            close(fd)
            XCTAssertEqual(raw(d, number) { b in
                b.storeBytes(of: UInt32(4096), toByteOffset: 0, as: UInt32.self)
                for (i, c) in "deadbeef".utf8.enumerated() { b[nameAt + i] = c }
            }.failureErrno, .EINVAL, "unknown allocator")
        }
    }

    /// v2: CREATE without a name; SELECT_BY_NAME binds the buffer once,
    /// moving it when another allocator is named.
    func testV2SelectByNameBindsOnceAndMovesToAnotherAllocator() throws {
        let d = try device(allocators: [MemfdAllocator(), NamedAllocator(name: "smaf-other", ranking: -5)], generations: .all)
        let sock = try connectChannel()
        defer { close(sock) }
        func v2create() throws -> Int32 {
            let out = try raw(d, 0xC010_5300) { $0.storeBytes(of: UInt64(4096), toByteOffset: 0, as: UInt64.self) }.get()
            let (token, fd, _) = try receive(sock)
            XCTAssertEqual(token, load(out, 12))
            return fd
        }
        func select(_ fd: Int32, _ name: String) -> Result<Int32, SmafErrno> {
            raw(d, 0xC044_5303) { b in
                b.storeBytes(of: fd, toByteOffset: 0, as: Int32.self)
                for (i, c) in name.utf8.enumerated() { b[4 + i] = c }
            }.map { load($0, 0) }
        }
        let a = try v2create()
        defer { close(a) }
        XCTAssertEqual(allocator(of: a, d), "smaf-memfd")
        XCTAssertEqual(select(a, "deadbeef").failureErrno, .EINVAL, "unknown name")
        XCTAssertEqual(select(a, "smaf-memfd"), .success(a), "its own allocator: bound, the fd stays")
        XCTAssertEqual(select(a, "smaf-memfd").failureErrno, .EINVAL, "bound already")
        let b = try v2create()
        defer { close(b) }
        let token = try select(b, "smaf-other").get()
        XCTAssertLessThanOrEqual(token, -2, "another allocator: a new buffer under a token")
        let (got, moved, _) = try receive(sock)
        XCTAssertEqual(got, token)
        XCTAssertEqual(allocator(of: moved, d), "smaf-other")
        XCTAssertEqual(select(moved, "smaf-memfd").failureErrno, .EINVAL, "the new buffer is bound")
        close(moved)
        let v10 = try create(d).get()
        let (_, v10fd, _) = try receive(sock)
        XCTAssertEqual(v10.fd <= -2, true)
        XCTAssertEqual(select(v10fd, "smaf-memfd").failureErrno, .EINVAL, "a v10 buffer was bound at CREATE")
        close(v10fd)
    }

    /// The 8-byte secure flag (v2-v7), v7 GET_INFO and the S64 variant.
    func testSecureFlagGetInfoAndS64() throws {
        let d = try device(generations: .all)
        let sock = try connectChannel()
        defer { close(sock) }
        let made = try create(d).get()
        let (_, fd, _) = try receive(sock)
        defer { close(fd) }
        _ = made
        XCTAssertEqual(raw(d, 0xC008_5302) { b in b.storeBytes(of: fd, toByteOffset: 0, as: Int32.self); b.storeBytes(of: Int32(7), toByteOffset: 4, as: Int32.self) }.map(\.count), .success(0), "SET copies nothing back")
        XCTAssertEqual(raw(d, 0xC008_5301) { $0.storeBytes(of: fd, toByteOffset: 0, as: Int32.self) }.map { load($0, 4) as Int32 }, .success(1))
        // S64: v8's version check stays, the fd is 64 bits wide.
        XCTAssertEqual(raw(d, 0xC048_5301) { b in b.storeBytes(of: UInt64(1), toByteOffset: 0, as: UInt64.self); b.storeBytes(of: Int64(fd), toByteOffset: 8, as: Int64.self) }.failureErrno, .EINVAL)
        XCTAssertEqual(raw(d, 0xC048_5301) { $0.storeBytes(of: Int64(fd) | (1 << 40), toByteOffset: 8, as: Int64.self) }.failureErrno, .EINVAL, "not an fd number")
        for number: UInt32 in [0xC048_5302, 0xC044_5302] {
            XCTAssertEqual(raw(d, number) { $0.storeBytes(of: Int64(fd), toByteOffset: 8, as: Int64.self) }.map(\.count), .success(0), "S64 SET 0")
        }
        XCTAssertEqual(raw(d, 0xC044_5301) { $0.storeBytes(of: Int64(fd), toByteOffset: 8, as: Int64.self) }.map { load($0, 20) as UInt32 }, .success(0))
        let info = try raw(d, 0xC048_5303) { _ in }.get()
        XCTAssertEqual(load(info, 4) as Int32, 1, "count")
        XCTAssertEqual(String(decoding: info[8..<18], as: UTF8.self), "smaf-memfd")
        XCTAssertEqual(raw(d, 0xC048_5303) { $0.storeBytes(of: Int32(1), toByteOffset: 0, as: Int32.self) }.failureErrno, .EINVAL)
        for (number, flags, want) in [(UInt32(0xC088_5300), UInt32(0x80002), true), (0xC084_5300, 0x80042, false)] {
            let r = raw(d, number) { b in
                b.storeBytes(of: UInt64(4096), toByteOffset: 8, as: UInt64.self)
                b.storeBytes(of: flags, toByteOffset: 16, as: UInt32.self)
            }
            XCTAssertEqual(r.failureErrno == nil, want, "S64 CREATE validates flags like v8")
            if let out = try? r.get() {
                let token: Int64 = load(out, 24)
                XCTAssertLessThanOrEqual(token, -2, "sign-extended into the 64-bit fd")
                let (got, buf, _) = try receive(sock)
                XCTAssertEqual(Int64(got), token)
                close(buf)
            }
        }
    }

    /// SMAF_IOC_EXT_CONNECT: the caller's own socketpair end becomes its
    /// channel; other sockets and other users' pairs are refused.
    func testExtConnectAdoptsTheCallersOwnSocketPair() throws {
        let d = try device()
        func connect(_ sock: Int32, as c: Caller? = nil) -> Result<[UInt8], SmafErrno> {
            var b = [UInt8](repeating: 0, count: 128)
            b.withUnsafeMutableBytes { $0.storeBytes(of: sock, toByteOffset: 8, as: Int32.self) }
            return d.ioctl(request: SmafExtensionRequest.connect.rawValue, input: b, caller: c ?? me)
        }
        var pair: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair), 0)
        defer { close(pair[0]) }
        XCTAssertEqual(connect(9999).failureErrno, .EBADF)
        XCTAssertEqual(connect(pair[1], as: Caller(tid: me.tid, uid: me.uid &+ 1, gid: me.gid)).failureErrno, .EPERM,
                       "a pair made by another user")
        var stream: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &stream), 0)
        XCTAssertEqual(connect(stream[1]).failureErrno, .EINVAL, "not SOCK_SEQPACKET")
        close(stream[0]); close(stream[1])
        let out = try connect(pair[1]).get()
        XCTAssertEqual(load(out, 12) as UInt32, 1, "protocol version")
        close(pair[1])
        let (token, passed, _) = try receive(pair[0])
        XCTAssertEqual(token, 0, "the welcome")
        XCTAssertEqual(passed, -1)
        let made = try create(d).get()
        let (got, fd, _) = try receive(pair[0])
        XCTAssertEqual(got, made.fd)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertTrue(logs.contains("made by process"), "the EPERM reason is logged")
    }
}
