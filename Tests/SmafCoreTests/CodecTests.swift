// SPDX-License-Identifier: MIT
import SmafABI
import SmafCore
import SmafTestSupport
import XCTest

final class CodecTests: XCTestCase {
    private func randomBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255) } }

    /// decode then encode gives back every byte, reserved ones included.
    func testRoundTripPreservesEveryByte() {
        for _ in 0..<200 {
            let c = randomBytes(128)
            XCTAssertEqual(SmafCreateData(decoding: c)?.encoded, c)
            let s = randomBytes(64)
            XCTAssertEqual(SmafSecureFlag(decoding: s)?.encoded, s)
            let i = randomBytes(128)
            XCTAssertEqual(SmafInfo(decoding: i)?.encoded, i)
        }
    }

    func testFieldsLandAtTheirOffsets() {
        var d = SmafCreateData()
        d.version = 0x0102_0304_0506_0708
        d.length = 16385
        d.flags = 0x80002
        d.fd = -1
        d.name = FixedBytes(cString: "smaf-cma")
        d.reserved3[31] = 0xAB
        let b = d.encoded
        XCTAssertEqual(b[0], 0x08)  // little endian host
        XCTAssertEqual(b[8], 0x01)
        XCTAssertEqual(b[9], 0x40)
        XCTAssertEqual(b[16], 0x02)
        XCTAssertEqual(b[18], 0x08)
        XCTAssertEqual(Array(b[24..<28]), [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(Array(b[32..<40]), Array("smaf-cma".utf8))
        XCTAssertEqual(b[40], 0)
        XCTAssertEqual(b[127], 0xAB)
    }

    func testWrongSizesAreRefused() {
        for n in [0, 1, 63, 65, 127, 129, 4096] {
            XCTAssertNil(SmafCreateData(decoding: [UInt8](repeating: 0, count: n)), "\(n)")
            XCTAssertNil(SmafInfo(decoding: [UInt8](repeating: 0, count: n)), "\(n)")
        }
        for n in [0, 8, 63, 65, 128] {
            XCTAssertNil(SmafSecureFlag(decoding: [UInt8](repeating: 0, count: n)), "\(n)")
        }
        var small = [UInt8](repeating: 0xEE, count: 100)
        small.withUnsafeMutableBytes { XCTAssertFalse(SmafCreateData().encode(into: $0)) }
        XCTAssertEqual(small, [UInt8](repeating: 0xEE, count: 100), "a refused encode writes nothing")
    }

    func testFixedBytesStrings() {
        let name = FixedBytes<64>(cString: String(repeating: "x", count: 80))
        XCTAssertEqual(name.prefixBeforeNUL, 64)
        XCTAssertEqual(FixedBytes<64>(cString: "smaf").string, "smaf")
        XCTAssertEqual(FixedBytes<64>(cString: "").prefixBeforeNUL, 0)
    }
}

final class ProcPathTests: XCTestCase {
    /// The stack-built /proc path resolves like the String one would.
    func testProcFDPathResolvesThisThreadsFDs() throws {
        let env = ProcFSEnvironment()
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        var st = stat()
        XCTAssertEqual(fstat(fds[0], &st), 0)
        let id = try XCTUnwrap(env.fileIdentity(ofFD: fds[0], inThread: getpid()))
        XCTAssertEqual(id, FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)))
        let high = fcntl(fds[0], F_DUPFD, 1003)  // below the usual 1024 soft limit
        XCTAssertGreaterThanOrEqual(high, 1003)
        defer { close(high) }
        XCTAssertEqual(env.fileIdentity(ofFD: high, inThread: getpid()), id, "multi-digit numbers")
        XCTAssertNil(env.fileIdentity(ofFD: 999_999, inThread: getpid()))
        XCTAssertNil(env.fileIdentity(ofFD: 3, inThread: Int32.max))
    }
}
