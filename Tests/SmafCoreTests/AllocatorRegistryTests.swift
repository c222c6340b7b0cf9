// SPDX-License-Identifier: MIT
import SmafABI
import SmafCore
import SmafTestSupport
import XCTest

final class AllocatorRegistryTests: XCTestCase {
    func testRankingDescendingThenName() throws {
        let r = AllocatorRegistry()
        try r.register(NamedAllocator(name: "b", ranking: 0))
        try r.register(NamedAllocator(name: "z", ranking: 5))
        try r.register(NamedAllocator(name: "a", ranking: 0))
        try r.register(NamedAllocator(name: "B", ranking: 0))  // 'B' < 'a' in byte order
        try r.register(NamedAllocator(name: "neg", ranking: -3))
        XCTAssertEqual(r.allocators.map(\.name), ["z", "B", "a", "b", "neg"])
        XCTAssertEqual(r.entry(at: 0).allocator?.name, "z")
        XCTAssertEqual(r.entry(at: 4).count, 5)
        XCTAssertNil(r.entry(at: 5).allocator)
        XCTAssertNil(r.entry(at: -1).allocator)
    }

    func testRefusedNames() {
        let r = AllocatorRegistry()
        XCTAssertThrowsError(try r.register(NamedAllocator(name: "", ranking: 0))) {
            XCTAssertEqual($0 as? AllocatorRegistrationError, .emptyName)
        }
        let long = String(repeating: "n", count: 64)
        XCTAssertThrowsError(try r.register(NamedAllocator(name: long, ranking: 0))) {
            XCTAssertEqual($0 as? AllocatorRegistrationError, .nameTooLong(long, bytes: 64))
        }
        XCTAssertNoThrow(try r.register(NamedAllocator(name: String(repeating: "n", count: 63), ranking: 0)))
        XCTAssertThrowsError(try r.register(NamedAllocator(name: "with space", ranking: 0)))
        XCTAssertThrowsError(try r.register(NamedAllocator(name: "caf\u{E9}", ranking: 0)))
        XCTAssertNoThrow(try r.register(MemfdAllocator()))
        XCTAssertThrowsError(try r.register(NamedAllocator(name: "smaf-memfd", ranking: 9))) {
            XCTAssertEqual($0 as? AllocatorRegistrationError, .duplicateName("smaf-memfd"))
        }
        XCTAssertEqual(r.count, 2)
    }

    func testLookupIsExactOverTheNULTerminatedName() throws {
        let r = AllocatorRegistry()
        try r.register(NamedAllocator(name: "smaf-cma", ranking: 0))
        XCTAssertNotNil(r.lookup(FixedBytes<64>(cString: "smaf-cma")))
        XCTAssertNil(r.lookup(FixedBytes<64>(cString: "smaf-cm")))
        XCTAssertNil(r.lookup(FixedBytes<64>(cString: "smaf-cmaa")))
        var trailing = FixedBytes<64>(cString: "smaf-cma")
        trailing[20] = 0x41  // bytes after the NUL do not count
        XCTAssertNotNil(r.lookup(trailing))
        var noNUL = FixedBytes<64>(cString: String(repeating: "q", count: 64))
        XCTAssertNil(r.lookup(noNUL))
        noNUL[0] = 0xFF
        XCTAssertNil(r.lookup(noNUL))
    }

    func testAliasesListLikeAllocators() throws {
        let r = AllocatorRegistry()
        let memfd = MemfdAllocator()
        try r.register(memfd)
        try r.register(AllocatorAlias(name: "smaf-cma", target: memfd))
        XCTAssertEqual(r.allocators.map(\.name), ["smaf-cma", "smaf-memfd"])
        XCTAssertTrue(r.lookup("smaf-cma")!.backing.contains("smaf-memfd"))
    }
}
