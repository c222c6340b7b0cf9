// SPDX-License-Identifier: MIT
import SmafABI
import Logging
import SmafCore
import SmafTestSupport
import XCTest

/// The dispatcher, check by check, in the driver's order (docs/differences.md).
final class SmafDeviceTests: XCTestCase {
    var env: FakeEnvironment!
    var logs: CapturedLogs!

    override func setUp() {
        env = FakeEnvironment(threadToProcess: [4242: 4200, 4243: 4200, 5000: 5000])
        logs = CapturedLogs()
    }

    private func makeDevice(secure: SecurePolicy = .testsecure, allocators: [any Allocator] = [MemfdAllocator()]) throws -> SmafDevice {
        let registry = AllocatorRegistry()
        for a in allocators { try registry.register(a) }
        return SmafDevice(registry: registry, secureModule: secure.makeModule(), environment: env,
                          pageSize: 4096, logger: logs.logger)
    }

    private func call(_ d: SmafDevice, _ req: UInt32, _ bytes: [UInt8], as who: Caller = caller) -> Result<[UInt8], SmafErrno> {
        d.ioctl(request: req, input: bytes, caller: who)
    }

    private func assertErrno(_ r: Result<[UInt8], SmafErrno>, _ e: SmafErrno, file: StaticString = #filePath, line: UInt = #line) {
        switch r {
        case .success: XCTFail("expected \(e), got success", file: file, line: line)
        case .failure(let got): XCTAssertEqual(got, e, file: file, line: line)
        }
    }

    // MARK: request numbers

    func testUnknownAndLegacyRequestsGetEINVAL() throws {
        let d = try makeDevice()
        for req: UInt32 in [0, 0x5300, 0xC080_5304, 0xC080_5400, 0x4080_5303, 0xC050_5300, 0xC008_5301, 0xC048_5303,
                            0xC088_5300, 0xC048_5302, 0x8080_5303, 0xC080_5313] {
            assertErrno(call(d, req, [UInt8](repeating: 0, count: 128)), .EINVAL)
        }
        XCTAssertTrue(logs.messages(at: .debug).contains { $0.contains("legacy request (v3-v7 CREATE") })
    }

    func testWrongArgumentSizesGetEINVAL() throws {
        let d = try makeDevice()
        for req in SmafRequest.allCases {
            for n in [0, req.structSize - 1, req.structSize + 1] {
                var out = [UInt8](repeating: 0, count: 256)
                let r = [UInt8](repeating: 0, count: n).withUnsafeBytes { i in
                    out.withUnsafeMutableBytes { d.ioctl(request: req.rawValue, input: i, output: $0, caller: caller) }
                }
                XCTAssertEqual(r.failureErrno, .EINVAL, "\(req.name) with \(n) input bytes")
            }
            // An output area smaller than the struct is refused too.
            var small = [UInt8](repeating: 0, count: req.structSize - 1)
            let r = [UInt8](repeating: 0, count: req.structSize).withUnsafeBytes { i in
                small.withUnsafeMutableBytes { d.ioctl(request: req.rawValue, input: i, output: $0, caller: caller) }
            }
            XCTAssertEqual(r.failureErrno, .EINVAL, "\(req.name) with a short output")
        }
    }

    func testVersionMustBeZeroInAllFour() throws {
        let d = try makeDevice()
        var c = createData(); c.version = 1
        assertErrno(call(d, SmafRequest.create.rawValue, c.encoded), .EINVAL)
        var s = SmafSecureFlag(); s.version = 0x8000_0000_0000_0000; s.fd = 3
        env.fds.withLock { $0[3] = FileIdentity(device: 1, inode: 1) }
        assertErrno(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded), .EINVAL)
        assertErrno(call(d, SmafRequest.setSecureFlag.rawValue, s.encoded), .EINVAL)
        var i = SmafInfo(); i.version = 2
        assertErrno(call(d, SmafRequest.getInfo.rawValue, i.encoded), .EINVAL)
        XCTAssertTrue(logs.messages(at: .debug).contains { $0.contains("version 2 is not 0") })
    }

    // MARK: CREATE

    func testCreateFlagValidation() throws {
        let d = try makeDevice()
        for bad: UInt32 in [0x1, 0x3, 0x40, 0x800, 0x80003, 0x8000_0000, 0xFFFF_FFFF] {
            assertErrno(call(d, SmafRequest.create.rawValue, createData(flags: bad).encoded), .EINVAL)
        }
        // The four valid values pass flag validation and reach the handoff step.
        for good: UInt32 in [0, 0x2, 0x80000, 0x80002] {
            assertErrno(call(d, SmafRequest.create.rawValue, createData(flags: good).encoded), .ENOTCONN)
        }
    }

    func testCreateLengthSaferChoices() throws {
        let d = try makeDevice()
        assertErrno(call(d, SmafRequest.create.rawValue, createData(length: 0).encoded), .EINVAL)
        assertErrno(call(d, SmafRequest.create.rawValue, createData(length: UInt64.max).encoded), .EINVAL)
        assertErrno(call(d, SmafRequest.create.rawValue, createData(length: UInt64.max - 4094).encoded), .EINVAL)
        assertErrno(call(d, SmafRequest.create.rawValue, createData(length: UInt64(Int64.max)).encoded), .EINVAL)
        assertErrno(call(d, SmafRequest.create.rawValue, createData(length: 1).encoded), .ENOTCONN)
        XCTAssertEqual(d.roundedLength(1), 4096)
        XCTAssertEqual(d.roundedLength(16385), 20480)
        XCTAssertEqual(d.roundedLength(16384), 16384)
        XCTAssertEqual(d.roundedLength(UInt64(Int64.max) - 4095), UInt64(Int64.max) - 4095)
        XCTAssertNil(d.roundedLength(UInt64.max - 4094))
    }

    func testCreateUnknownNameGetsEINVALKnownNameReachesHandoff() throws {
        let d = try makeDevice(allocators: [MemfdAllocator(), NamedAllocator(name: "smaf-cma", ranking: 0)])
        assertErrno(call(d, SmafRequest.create.rawValue, createData(name: "deadbeef").encoded), .EINVAL)
        assertErrno(call(d, SmafRequest.create.rawValue, createData(name: "smaf-cm").encoded), .EINVAL)
        assertErrno(call(d, SmafRequest.create.rawValue, createData(name: "smaf-cma").encoded), .ENOTCONN)
        assertErrno(call(d, SmafRequest.create.rawValue, createData(name: "smaf-memfd").encoded), .ENOTCONN)
        // name[0] == 0 means "let SMAF choose"; the rest of name is ignored.
        var unnamed = createData(); unnamed.name[1] = 0x7A
        assertErrno(call(d, SmafRequest.create.rawValue, unnamed.encoded), .ENOTCONN)
        XCTAssertTrue(logs.messages(at: .debug).contains { $0.contains("no allocator named 'deadbeef'") })
    }

    func testCreateOrderOfChecks() throws {
        let d = try makeDevice()
        // version before flags before length before name.
        var c = createData(length: 0, flags: 0x1, name: "deadbeef"); c.version = 9
        _ = call(d, SmafRequest.create.rawValue, c.encoded)
        c.version = 0
        _ = call(d, SmafRequest.create.rawValue, c.encoded)
        c.flags = 0
        _ = call(d, SmafRequest.create.rawValue, c.encoded)
        c.length = 1
        _ = call(d, SmafRequest.create.rawValue, c.encoded)
        let reasons = logs.messages(at: .debug)
        XCTAssertEqual(reasons.count, 4)
        XCTAssertTrue(reasons[0].contains("version 9"))
        XCTAssertTrue(reasons[1].contains("flags 0x1"))
        XCTAssertTrue(reasons[2].contains("length 0"))
        XCTAssertTrue(reasons[3].contains("no allocator named"))
    }

    func testCreateWithoutHandoffChannelWarnsOncePerProcess() throws {
        let d = try makeDevice()
        let tidA1 = Caller(tid: 4242, uid: 1, gid: 1), tidA2 = Caller(tid: 4243, uid: 1, gid: 1)
        let tidB = Caller(tid: 5000, uid: 2, gid: 2)
        for who in [tidA1, tidA2, tidA1, tidB, tidB] {
            assertErrno(call(d, SmafRequest.create.rawValue, createData().encoded, as: who), .ENOTCONN)
        }
        let warnings = logs.messages(at: .warning)
        XCTAssertEqual(warnings.count, 2, "one warning per process, not per thread or call")
        XCTAssertTrue(warnings[0].contains("process 4200"))
        XCTAssertTrue(warnings[1].contains("process 5000"))
        XCTAssertTrue(warnings[0].contains("ENOTCONN"))
    }

    // MARK: GET_INFO

    func testGetInfoEnumeratesInRankOrderAndEchoesReserved() throws {
        let d = try makeDevice(allocators: [MemfdAllocator(), NamedAllocator(name: "smaf-optee", ranking: 1),
                                            NamedAllocator(name: String(repeating: "L", count: 63), ranking: -1)])
        var names: [String] = []
        for index in 0..<3 {
            var i = SmafInfo()
            i.index = UInt32(index)
            i.reserved1 = 0xDEAD_BEEF
            i.reserved2 = 0x1234_5678
            i.count = 99
            i.reserved3 = FixedBytes((0..<40).map { UInt8($0 + 1) })
            i.name = FixedBytes([UInt8](repeating: 0xFF, count: 64))  // stale bytes must not survive
            let out = try XCTUnwrap(call(d, SmafRequest.getInfo.rawValue, i.encoded).successValue)
            let r = try XCTUnwrap(SmafInfo(decoding: out))
            XCTAssertEqual(r.count, 3)
            XCTAssertEqual(r.index, UInt32(index))
            XCTAssertEqual(r.reserved1, 0xDEAD_BEEF)
            XCTAssertEqual(r.reserved2, 0x1234_5678)
            XCTAssertEqual(r.reserved3, i.reserved3)
            XCTAssertEqual(r.version, 0)
            let n = r.name.prefixBeforeNUL
            XCTAssertLessThan(n, 64)
            for k in n..<64 { XCTAssertEqual(r.name[k], 0, "NUL padding at \(k)") }
            names.append(r.name.string)
        }
        XCTAssertEqual(names, ["smaf-optee", "smaf-memfd", String(repeating: "L", count: 63)])
        for bad: UInt32 in [3, 4, 0xFFFF_FFFF] {
            var i = SmafInfo(); i.index = bad
            assertErrno(call(d, SmafRequest.getInfo.rawValue, i.encoded), .EINVAL)
        }
    }

    func testGetInfoWithNoAllocatorsIsEINVAL() throws {
        let d = try makeDevice(allocators: [])
        assertErrno(call(d, SmafRequest.getInfo.rawValue, SmafInfo().encoded), .EINVAL)
    }

    // MARK: GET / SET_SECURE_FLAG

    func testGetSecureFlagFdChecks() throws {
        let d = try makeDevice()
        var s = SmafSecureFlag(); s.fd = -1
        assertErrno(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded), .EINVAL)
        s.fd = 7  // not open
        assertErrno(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded), .EINVAL)
        s.fd = Int32.min
        assertErrno(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded), .EINVAL)
        // An open file that is not a SMAF buffer reads as not secure; reserved echoed.
        env.fds.withLock { $0[7] = FileIdentity(device: 9, inode: 9) }
        s.fd = 7
        s.secure = 0xFFFF
        s.reserved1 = 0xAA55
        s.reserved2 = FixedBytes([UInt8](repeating: 0x5A, count: 44))
        let out = try XCTUnwrap(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded).successValue)
        let r = try XCTUnwrap(SmafSecureFlag(decoding: out))
        XCTAssertEqual(r.secure, 0)
        XCTAssertEqual(r.fd, 7)
        XCTAssertEqual(r.reserved1, 0xAA55)
        XCTAssertEqual(r.reserved2, s.reserved2)
    }

    func testSetSecureFlagWithoutModuleIsEINVALBeforeAnythingElse() throws {
        let d = try makeDevice(secure: .none)
        // Even a malformed (short, versioned) argument gets EINVAL for "no module" first.
        assertErrno(call(d, SmafRequest.setSecureFlag.rawValue, [1, 2, 3]), .EINVAL)
        XCTAssertTrue(logs.messages(at: .debug).last!.contains("no secure module"))
        // GET still works and reports 0.
        env.fds.withLock { $0[3] = FileIdentity(device: 1, inode: 2) }
        d.buffers.insert(BufferRecord(length: 4096, flags: 2, allocator: "smaf-memfd", ownerUID: 0), for: FileIdentity(device: 1, inode: 2))
        var s = SmafSecureFlag(); s.fd = 3
        XCTAssertEqual(try XCTUnwrap(SmafSecureFlag(decoding: try XCTUnwrap(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded).successValue))).secure, 0)
    }

    func testSetSecureFlagOnNonBufferOrUnresolvedFd() throws {
        let d = try makeDevice()
        var s = SmafSecureFlag(); s.fd = 5; s.secure = 1
        assertErrno(call(d, SmafRequest.setSecureFlag.rawValue, s.encoded), .EINVAL)  // not open
        env.fds.withLock { $0[5] = FileIdentity(device: 3, inode: 3) }
        assertErrno(call(d, SmafRequest.setSecureFlag.rawValue, s.encoded), .EINVAL)  // open, not SMAF
        s.fd = -1
        assertErrno(call(d, SmafRequest.setSecureFlag.rawValue, s.encoded), .EINVAL)
    }

    func testSecureRoundTripOnARecordedBuffer() throws {
        // deny-cpu needs a real buffer to seal: see HandoffTests.
        for policy in [SecurePolicy.testsecure] {
            let d = try makeDevice(secure: policy)
            let id = FileIdentity(device: 10, inode: 77)
            d.buffers.insert(BufferRecord(length: 4096, flags: 2, allocator: "smaf-memfd", ownerUID: 1000), for: id)
            env.fds.withLock { $0[8] = id; $0[9] = id }  // two fds, same buffer
            func get(_ fd: Int32) throws -> UInt32 {
                var s = SmafSecureFlag(); s.fd = fd
                return try XCTUnwrap(SmafSecureFlag(decoding: try XCTUnwrap(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded).successValue))).secure
            }
            func set(_ fd: Int32, _ v: UInt32) -> Result<[UInt8], SmafErrno> {
                var s = SmafSecureFlag(); s.fd = fd; s.secure = v
                return call(d, SmafRequest.setSecureFlag.rawValue, s.encoded)
            }
            XCTAssertEqual(try get(8), 0)
            XCTAssertEqual(set(8, 0x100).successValue, [], "any non-zero means secure; SET copies nothing back")
            XCTAssertEqual(try get(8), 1)
            XCTAssertEqual(try get(9), 1, "secure state belongs to the buffer, not the fd")
            XCTAssertNotNil(set(9, 1).successValue, "idempotent")
            XCTAssertNotNil(set(8, 0).successValue)
            XCTAssertEqual(try get(9), 0)
            XCTAssertNotNil(set(8, 0).successValue, "idempotent")
        }
    }

    /// The status query is open to every local user: per-uid counts are
    /// shown in full to root (and smafd's user), otherwise only the asker's own.
    func testStatusShowsOtherUsersOnlyToPrivilegedViewers() throws {
        let d = try makeDevice()
        d.buffers.insert(BufferRecord(length: 4096, flags: 2, allocator: "smaf-memfd", ownerUID: 1001), for: FileIdentity(device: 1, inode: 1))
        d.buffers.insert(BufferRecord(length: 8192, flags: 2, allocator: "smaf-memfd", ownerUID: 1002), for: FileIdentity(device: 1, inode: 2))
        func uids(_ viewer: UInt32?) -> [String] {
            guard case .object(let fields) = d.status(viewer: viewer),
                  case .array(let rows)? = fields.first(where: { $0.0 == "by_uid" })?.1 else { return ["?"] }
            return rows.map { $0.rendered }
        }
        XCTAssertEqual(uids(nil).count, 2)
        XCTAssertEqual(uids(0).count, 2, "root sees everyone")
        XCTAssertEqual(uids(1001), [#"{"uid":1001,"buffers":1,"bytes":4096}"#])
        XCTAssertEqual(uids(1003), [], "a user without buffers learns only the totals")
        XCTAssertTrue(d.status(viewer: 1003).rendered.contains(#""live_buffers":2"#), "totals stay visible")
    }

    /// After a restart, buffers of the earlier instance are not in the table.
    /// A plain file still reads as "not secure"; a look-alike of smafd's
    /// memfds may be secure, so GET refuses rather than answer 0, and SET
    /// refuses as for any non-SMAF fd.
    func testEarlierInstancesBuffersAreRefusedNotReportedInsecure() throws {
        let d = try makeDevice()
        env.fds.withLock { $0[6] = FileIdentity(device: 5, inode: 1); $0[7] = FileIdentity(device: 5, inode: 2) }
        _ = env.smafLookalikes.withLock { $0.insert(7) }
        var s = SmafSecureFlag(); s.fd = 6
        XCTAssertEqual(SmafSecureFlag(decoding: try XCTUnwrap(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded).successValue))?.secure, 0)
        s.fd = 7
        assertErrno(call(d, SmafRequest.getSecureFlag.rawValue, s.encoded), .EINVAL)
        XCTAssertTrue(logs.messages(at: .debug).last!.contains("earlier smafd instance"))
        s.secure = 1
        assertErrno(call(d, SmafRequest.setSecureFlag.rawValue, s.encoded), .EINVAL)
    }
}

extension Result {
    var successValue: Success? { if case .success(let v) = self { return v } else { return nil } }
    var failureErrno: Failure? { if case .failure(let e) = self { return e } else { return nil } }
}
