// SPDX-License-Identifier: MIT
import SmafABI
import XCTest
@testable import SmafCore

/// The live-buffer table's accounting, and the size parser that feeds its limits.
final class BufferTableTests: XCTestCase {
    private func record(_ length: UInt64, uid: UInt32) -> BufferRecord {
        BufferRecord(length: length, flags: 2, allocator: "smaf-memfd", ownerUID: uid)
    }

    /// With raised limits, two users can each own nearly 2^63 bytes; the
    /// daemon-wide total must refuse the CREATE that would overflow it
    /// (ENOMEM) instead of trapping.
    func testGlobalByteTotalOverflowIsRefusedNotTrapped() {
        let table = BufferTable()
        let big = UInt64(Int64.max) - 4095
        XCTAssertNil(table.insert(record(big, uid: 1), for: FileIdentity(device: 1, inode: 1), within: .unlimited))
        XCTAssertNil(table.insert(record(big, uid: 2), for: FileIdentity(device: 1, inode: 2), within: .unlimited))
        XCTAssertEqual(table.insert(record(1 << 62, uid: 3), for: FileIdentity(device: 1, inode: 3), within: .unlimited),
                       .ENOMEM)
        XCTAssertEqual(table.totals, BufferTotals(buffers: 2, bytes: big * 2, secure: 0))
        XCTAssertEqual(table.insert(record(big, uid: 1), for: FileIdentity(device: 1, inode: 4), within: .unlimited),
                       .ENOMEM, "per-user total overflow")
        table.remove(FileIdentity(device: 1, inode: 1))
        XCTAssertNil(table.insert(record(1 << 62, uid: 3), for: FileIdentity(device: 1, inode: 3), within: .unlimited))
        XCTAssertEqual(table.totalsByUID.map(\.uid), [2, 3])
    }

    func testPerUserLimitsAndReleaseOnRemove() {
        let table = BufferTable()
        let limits = Limits(maxBufferSize: 1 << 20, maxBuffersPerUser: 2, maxBytesPerUser: 8192)
        XCTAssertNil(table.insert(record(4096, uid: 7), for: FileIdentity(device: 0, inode: 1), within: limits))
        XCTAssertEqual(table.insert(record(8192, uid: 7), for: FileIdentity(device: 0, inode: 2), within: limits), .ENOMEM)
        XCTAssertNil(table.insert(record(4096, uid: 7), for: FileIdentity(device: 0, inode: 2), within: limits))
        XCTAssertEqual(table.insert(record(4096, uid: 7), for: FileIdentity(device: 0, inode: 3), within: limits), .EMFILE)
        XCTAssertNil(table.insert(record(4096, uid: 8), for: FileIdentity(device: 0, inode: 3), within: limits),
                     "another user's quota is separate")
        table.remove(FileIdentity(device: 0, inode: 1))
        XCTAssertNil(table.insert(record(4096, uid: 7), for: FileIdentity(device: 0, inode: 4), within: limits))
        XCTAssertEqual(table.totals.buffers, 3)
    }

    func testByteSizesParseAndStayWithinOffT() {
        XCTAssertEqual(parseByteSize("4096"), 4096)
        XCTAssertEqual(parseByteSize("16M"), 16 << 20)
        XCTAssertEqual(parseByteSize(" 2GiB "), 2 << 30)
        XCTAssertEqual(parseByteSize("1.5k"), 1536)
        XCTAssertEqual(parseByteSize("9223372036854775807"), UInt64(Int64.max))
        XCTAssertNil(parseByteSize("9223372036854775808"), "beyond off_t")
        XCTAssertNil(parseByteSize("16000000000G"))
        XCTAssertNil(parseByteSize("-1M"))
        XCTAssertNil(parseByteSize("nanG"))
        XCTAssertNil(parseByteSize("lots"))
    }

    func testByteSizeRefusalsSayWhy() {
        XCTAssertEqual(ByteSize.parse("1Q"), .failure(.notASize("1Q")))
        XCTAssertTrue("\(ByteSize.Refusal.notASize("1Q"))".contains("K, M or G"), "lists the suffixes")
        XCTAssertEqual(ByteSize.parse("-5"), .failure(.negative("-5")))
        XCTAssertEqual(ByteSize.parse("-1M"), .failure(.negative("-1M")))
        XCTAssertEqual(ByteSize.parse("9223372036854775808"), .failure(.tooLarge("9223372036854775808")))
        XCTAssertEqual(ByteSize.parse("99999999999999999999999"), .failure(.tooLarge("99999999999999999999999")))
        XCTAssertEqual(ByteSize.parse("16000000000G"), .failure(.tooLarge("16000000000G")))
        XCTAssertEqual(ByteSize.parsePositive("0"), .failure(.zero("0")))
        XCTAssertEqual(ByteSize.parse("0"), .success(0))
        XCTAssertEqual(ByteSize.parse("M"), .failure(.notASize("M")))
        XCTAssertEqual(ByteSize.parse("1e3"), .failure(.notASize("1e3")))
        XCTAssertEqual(ByteSize.parsePositive("2KiB"), .success(2048))
    }
}
