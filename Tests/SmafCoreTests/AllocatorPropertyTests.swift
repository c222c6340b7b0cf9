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

/// What an allocator declares decides what CREATE gives, what the secure
/// module allows and what operators see; in-process, with the real handoff.
extension HandoffTests {
    /// Declared like udmabuf: a dma-buf of at most 64 KiB, never read-only, not sealable.
    static func dmabufLike(_ name: String, ranking: Int32 = 10) -> NamedAllocator {
        NamedAllocator(name: name, ranking: ranking, properties: AllocatorProperties(
            dmabuf: true, contiguous: false, lazy: false, maxSize: 65536, readOnly: false,
            writeSealable: false, lifetime: .inode, backing: "test dma-buf"))
    }

    /// The allocator smafd says made the buffer this process holds as `fd`.
    func allocator(of fd: Int32, _ d: SmafDevice) -> String? {
        guard case .object(let fields) = d.describeBuffer(fd: UInt64(fd), of: getpid(), viewer: getuid()) else { return nil }
        if case .string(let s)? = fields.first(where: { $0.0 == "allocator" })?.1 { return s }
        return nil
    }

    func testUnnamedCreateTakesTheFirstAllocatorThatCanMakeTheBuffer() throws {
        let sock = try connectChannel()
        defer { close(sock) }
        let d = try device(allocators: [MemfdAllocator(), Self.dmabufLike("smaf-dmabuf-test")])
        XCTAssertEqual(d.registry.allocators.map(\.name), ["smaf-dmabuf-test", "smaf-memfd"])
        let cases: [(length: UInt64, flags: UInt32, expected: String)] = [
            (16384, 0x80002, "smaf-dmabuf-test"),  // RDWR, fits: the first in rank order
            (16384, 0x80000, "smaf-memfd"),        // read-only: only an allocator that can make one
            (131072, 0x80002, "smaf-memfd"),       // beyond the first one's max_size
        ]
        for c in cases {
            XCTAssertNotNil(create(d, length: c.length, flags: c.flags).successValue)
            let (_, fd, _) = try receive(sock)
            XCTAssertEqual(allocator(of: fd, d), c.expected, "length \(c.length) flags 0x\(String(c.flags, radix: 16))")
            close(fd)
        }
        // Named: that allocator or nothing, with EINVAL when it cannot.
        XCTAssertEqual(create(d, length: 131072, name: "smaf-dmabuf-test").failureErrno, .EINVAL, "beyond its max_size")
        XCTAssertEqual(create(d, flags: 0x80000, name: "smaf-dmabuf-test").failureErrno, .EINVAL, "read-only from a writable-only exporter")
        XCTAssertTrue(logs.contains("smaf-dmabuf-test makes buffers of at most 65536 bytes"))
        XCTAssertTrue(logs.contains("smaf-dmabuf-test cannot make read-only buffers"))
        let none = try device(allocators: [Self.dmabufLike("only")])
        XCTAssertEqual(create(none, flags: 0x80000).failureErrno, .EINVAL, "nothing can make it read-only")
        XCTAssertEqual(describe(d, fd: 0)?["buffer"], .bool(false), "fd 0 is no buffer")
    }

    func testDenyCPUIsNeverClaimedOnBuffersItCannotSeal() throws {
        let sock = try connectChannel()
        defer { close(sock) }
        let d = try device(.denyCPU, allocators: [MemfdAllocator(), Self.dmabufLike("smaf-dmabuf-test")])
        XCTAssertEqual(d.registry.allocators.map(\.name), ["smaf-memfd", "smaf-dmabuf-test"],
                       "deny-cpu puts the allocators it can enforce first, whatever the ranking")
        XCTAssertNotNil(create(d, name: "smaf-dmabuf-test").successValue)
        let (_, fd, _) = try receive(sock)
        defer { close(fd) }
        XCTAssertEqual(secure(d, fd, set: 1).failureErrno, .EINVAL)
        XCTAssertEqual(try secure(d, fd).get(), 0, "still reported non-secure")
        XCTAssertTrue(logs.contains("deny-cpu cannot be enforced on smaf-dmabuf-test buffers"))
        XCTAssertNoThrow(try secure(d, fd, set: 0).get(), "clearing a flag that was never set is fine")
        let t = try device(allocators: [MemfdAllocator(), Self.dmabufLike("smaf-dmabuf-test")])
        XCTAssertEqual(t.registry.allocators.first?.name, "smaf-dmabuf-test", "testsecure keeps the ranking")
    }

    func testInfoDeclaresEachAllocatorsProperties() throws {
        let d = try device(.denyCPU, allocators: [MemfdAllocator(), Self.dmabufLike("smaf-dmabuf-test")])
        guard case .object(let info) = d.info(), case .array(let list)? = info.first(where: { $0.0 == "allocators" })?.1 else {
            return XCTFail("no allocator list")
        }
        let rows = list.compactMap { v -> [String: JSONValue]? in
            guard case .object(let f) = v else { return nil }
            return Dictionary(uniqueKeysWithValues: f)
        }
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[1]["name"], .string("smaf-dmabuf-test"))
        XCTAssertEqual(rows[1]["dmabuf"], .bool(true))
        XCTAssertEqual(rows[1]["max_size"], .uint(65536))
        XCTAssertEqual(rows[1]["read_only"], .bool(false))
        XCTAssertEqual(rows[1]["secure_enforced"], .bool(false))
        XCTAssertEqual(rows[0]["lazy"], .bool(true))
        XCTAssertEqual(rows[0]["secure_enforced"], .bool(true))
        for key in ["contiguous", "backing", "ranking", "index"] { XCTAssertNotNil(rows[0][key], key) }
    }

    func describe(_ d: SmafDevice, fd: Int32) -> [String: JSONValue]? {
        guard case .object(let f) = d.describeBuffer(fd: UInt64(fd), of: getpid(), viewer: getuid()) else { return nil }
        return Dictionary(uniqueKeysWithValues: f)
    }
}

final class AllocatorPluginTests: XCTestCase {
    func testLastCloseLifetimeForgetsTheBufferAtItsSingleFileClose() throws {
        let logs = CapturedLogs()
        let lifetime = try BufferLifetime(table: BufferTable(), logger: logs.logger)
        let fd = smaf_sys_memfd("last-close-test")
        XCTAssertGreaterThanOrEqual(fd, 0)
        let record = BufferRecord(length: 4096, flags: 2, allocator: "x", ownerUID: 1)
        _ = try lifetime.track(fd: fd, kind: .lastClose, record: record)
        lifetime.drain()
        XCTAssertEqual(lifetime.table.count, 1)
        close(fd)
        for _ in 0..<100 where lifetime.table.count != 0 {
            lifetime.drain()
            usleep(2000)
        }
        XCTAssertEqual(lifetime.table.count, 0, "the close event ends the record")
        lifetime.drain()  // the IN_IGNORED of the removed watch finds nothing
        XCTAssertEqual(lifetime.table.count, 0)
    }

    func testDiscoveryProbesOnlyWhatItIsAskedFor() {
        let found = AllocatorDiscovery(only: ["smaf-memfd"]).discover()
        XCTAssertEqual(found.allocators.map(\.name), ["smaf-memfd"])
        XCTAssertTrue(found.skipped.contains { $0.name == "smaf-secretmem" && $0.reason == "not in --allocators" })
    }

    func testHeapNamesMapToTheNameAlphabet() {
        XCTAssertEqual(DmaHeapAllocator.allocatorName(forHeap: "system"), "smaf-heap-system")
        XCTAssertEqual(DmaHeapAllocator.allocatorName(forHeap: "linux,cma"), "smaf-heap-linux,cma")
        XCTAssertEqual(DmaHeapAllocator.allocatorName(forHeap: "my heap\u{E9}"), "smaf-heap-my_heap__")
        XCTAssertEqual(DmaHeapAllocator.allocatorName(forHeap: String(repeating: "h", count: 100)).utf8.count, 63)
        XCTAssertTrue(DmaHeapAllocator.isContiguousHeap("linux,cma"))
        XCTAssertTrue(DmaHeapAllocator.isContiguousHeap("reserved"))
        XCTAssertFalse(DmaHeapAllocator.isContiguousHeap("system"))
        XCTAssertFalse(DmaHeapAllocator.isContiguousHeap("system-uncached"))
    }

    func testSecretmemRefusesABufferBeyondTheRecipientsMemlockLimit() {
        let a = SecretmemAllocator(memlockLimit: { _ in 8192 })
        XCTAssertThrowsError(try a.allocate(AllocationRequest(length: 16384, readWrite: true, recipient: 1)).take()) { e in
            XCTAssertEqual((e as? AllocationFailure)?.errno, .ENOMEM)
            XCTAssertTrue((e as? AllocationFailure)?.reason.contains("RLIMIT_MEMLOCK of 8192 bytes") == true)
        }
        // /proc/<pid>/limits must give this process's own soft limit ("unlimited": nil).
        var rl = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(8) /* RLIMIT_MEMLOCK */, &rl), 0)
        XCTAssertEqual(SecretmemAllocator.memlockSoftLimit(of: getpid()), rl.rlim_cur == rlim_t.max ? nil : UInt64(rl.rlim_cur),
                       "the limits file parses to getrlimit's soft limit")
    }

    func testOnlyCPUOnlyAllocatorsGiveAWarningNamingWhatGivesDmabufs() throws {
        let w = try XCTUnwrap(DmabufAdvice.cpuOnlyWarning([MemfdAllocator(), SecretmemAllocator()]))
        for words in ["CPU-only", "smaf-memfd, smaf-secretmem", "modprobe vgem", "/dev/dma_heap", "/dev/udmabuf"] {
            XCTAssertTrue(w.contains(words), "'\(words)' missing from: \(w)")
        }
        XCTAssertNil(DmabufAdvice.cpuOnlyWarning([MemfdAllocator(), NamedAllocator.dmabuf("smaf-vgem", ranking: 0)]))
        let registry = AllocatorRegistry()
        try registry.register(MemfdAllocator())
        let info = SmafDevice(registry: registry, secureModule: nil, logger: Logger(label: "test")).info()
        guard case .object(let fields) = info, case .array(let warnings)? = fields.first(where: { $0.0 == "warnings" })?.1 else {
            return XCTFail("info() has no warnings array")
        }
        XCTAssertEqual(warnings.count, 1, "smafctl info shows the warning")
    }

    func testSyscallFailuresMapToTheSameErrnoForEveryAllocator() {
        XCTAssertEqual(AllocationFailure.syscall("x", ENOMEM).errno, .ENOMEM)
        XCTAssertEqual(AllocationFailure.syscall("x", ENOSPC).errno, .ENOMEM)
        XCTAssertEqual(AllocationFailure.syscall("x", EMFILE).errno, .ENOMEM)
        XCTAssertEqual(AllocationFailure.syscall("x", EINVAL).errno, .EINVAL)
        XCTAssertEqual(AllocationFailure.syscall("x", EFBIG).errno, .EINVAL)
        XCTAssertEqual(AllocationFailure.syscall("x", ENOTTY).errno, .EINVAL)
        XCTAssertTrue(AllocationFailure.syscall("UDMABUF_CREATE", EINVAL).reason.hasPrefix("UDMABUF_CREATE: "))
    }
}
