// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import SmafCore
import SmafTestSupport
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What CREATE leaves off its path (docs/performance.md): the watch and
/// smafd's closes after the reply, the re-scan that stands in for lost
/// inotify events, and device facts kept until udev's record changes.
extension HandoffTests {
    func testTheWatchAndClosesComeAfterTheReply() throws {
        let d = try device()
        let sock = try connectChannel()
        defer { close(sock) }
        var after = AfterReply()
        let input = createData(length: 8192, flags: 0x80002, name: "").encoded
        var out = [UInt8](repeating: 0, count: input.count)
        let r = input.withUnsafeBytes { i in out.withUnsafeMutableBytes {
            d.ioctl(request: SmafRequest.create.rawValue, input: i, output: $0, caller: me, after: &after)
        } }
        XCTAssertEqual(r.successValue, input.count)
        let (_, fd, _) = try receive(sock)
        XCTAssertEqual(status(d).buffers, 1, "the record is there before the reply")
        close(fd)
        usleep(50_000)
        lifetime.drain()
        XCTAssertEqual(status(d).buffers, 1, "smafd's own fd still holds the buffer until finish")
        d.finish(after)
        waitUntilNoBuffers(d)
        XCTAssertEqual(status(d).buffers, 0, "watched, then closed: its end is seen")
    }

    func testARescanEndsTheBuffersWhoseEventsWereLost() throws {
        // A lifetime no event loop drains: its events stay queued, as if lost.
        let quiet = try BufferLifetime(table: BufferTable(), logger: logs.logger)
        var fds: [Int32] = []
        for i in 0..<3 {
            let fd = smaf_sys_memfd("smaf-rescan-test")
            XCTAssertGreaterThanOrEqual(fd, 0)
            _ = try quiet.track(fd: fd, record: BufferRecord(length: 4096 * UInt64(i + 1), flags: 0, allocator: "smaf-memfd", ownerUID: 0))
            fds.append(fd)
        }
        close(fds[0])
        close(fds[2])
        XCTAssertEqual(quiet.table.count, 3, "nothing drained yet")
        quiet.rescan()
        XCTAssertEqual(quiet.table.count, 1, "the two closed buffers' watches are gone from the kernel's list")
        XCTAssertEqual(quiet.table.totals.bytes, 8192, "the live one stays")
        XCTAssertEqual(quiet.rescanCount, 1)
        XCTAssertTrue(logs.contains("2 ended buffers found by re-scanning 1 watches"), logs.messages(at: .warning).joined(separator: "\n"))
        close(fds[1])
    }

    func testDeviceFactsAreReadAgainOnlyWhenUdevsRecordChanges() throws {
        final class Counting: DeviceFactSource {
            let calls = Atomic(0)
            func facts(major: UInt32, minor: UInt32) -> DeviceFacts {
                var f = DeviceFacts(device: "c \(major):\(minor)")
                f.contiguous = calls.add(1, ordering: .relaxed).newValue > 1
                return f
            }
        }
        let source = Counting()
        let cache = DeviceFactCache(source, udevData: dir)
        XCTAssertFalse(cache.facts(major: 1, minor: 3).contiguous)
        XCTAssertFalse(cache.facts(major: 1, minor: 3).contiguous, "the second ask is answered from the cache")
        XCTAssertEqual(cache.sourceReads, 1)
        // udev writes a record for the device (a new file, renamed into place).
        let record = "\(dir)/c1:3"
        XCTAssertTrue(FileManager.default.createFile(atPath: record + ".tmp", contents: Data("E:SMAF_DMA_CONTIGUOUS=1\n".utf8)))
        XCTAssertEqual(rename(record + ".tmp", record), 0)
        XCTAssertTrue(cache.facts(major: 1, minor: 3).contiguous, "a new record: read afresh")
        XCTAssertEqual(cache.sourceReads, 2)
        _ = cache.facts(major: 1, minor: 3)
        XCTAssertEqual(cache.sourceReads, 2)
        XCTAssertTrue(FileManager.default.createFile(atPath: record + ".tmp", contents: Data("E:SMAF_DMA_CONTIGUOUS=0\n".utf8)))
        XCTAssertEqual(rename(record + ".tmp", record), 0)
        _ = cache.facts(major: 1, minor: 3)
        XCTAssertEqual(cache.sourceReads, 3, "every rewrite of the record counts")
        _ = cache.facts(major: 1, minor: 5)
        XCTAssertEqual(cache.sourceReads, 4, "another device is its own entry")
    }

    func testPooledExportsServeCreatesOnceEachWithinTheBudget() throws {
        let page: UInt64 = 4096
        let heap = NamedAllocator.dmabuf("smaf-heap-test", ranking: 2)  // eager
        let exports = ExportPool(lifetime: lifetime, depth: 4, shelves: 2, budget: 10 * page, logger: logs.logger)
        let module = SecurePolicy.testsecure.makeModule()
        let r = AllocatorRegistry(securing: module)
        try r.register(heap)
        try r.register(MemfdAllocator())
        let d = SmafDevice(registry: r, secureModule: module, handoff: server, lifetime: lifetime, exports: exports,
                           environment: ProcFSEnvironment(), logger: logs.logger)
        let sock = try connectChannel()
        defer { close(sock) }
        var inodes = Set<UInt64>(), fds: [Int32] = []
        func createAndReceive(_ length: UInt64, _ name: String, flags: UInt32 = 0x80002) throws {
            XCTAssertNotNil(create(d, length: length, flags: flags, name: name).successValue, "\(name) \(length)")
            let fd = try receive(sock).fd
            var st = stat()
            XCTAssertEqual(fstat(fd, &st), 0)
            XCTAssertEqual(UInt64(st.st_size), length, "exactly the size asked for")
            XCTAssertTrue(inodes.insert(UInt64(st.st_ino)).inserted, "never a buffer handed out before")
            fds.append(fd)
        }
        try createAndReceive(2 * page, "smaf-heap-test")
        XCTAssertEqual(exports.counts.misses, 1, "the first of a pair is a miss that teaches the pool")
        exports.refill()
        XCTAssertEqual(exports.shelved.buffers, 4)
        XCTAssertEqual(exports.shelved.eagerBytes, 8 * page, "within the 10-page budget")
        for _ in 0..<3 { try createAndReceive(2 * page, "smaf-heap-test") }
        XCTAssertEqual(exports.counts.hits, 3)
        XCTAssertEqual(exports.shelved.eagerBytes, 2 * page)
        try createAndReceive(3 * page, "smaf-heap-test")
        try createAndReceive(2 * page, "smaf-heap-test", flags: 0x80000)
        XCTAssertEqual(exports.counts.misses, 1, "3 pages x 4 exceed the budget, and read-only is never pooled")
        try createAndReceive(64 * page, "smaf-memfd")
        try createAndReceive(32 * page, "smaf-memfd")
        exports.refill()
        XCTAssertEqual(exports.shelved.buffers, 8, "lazy buffers take no budget; the third pair evicted the first")
        XCTAssertEqual(exports.shelved.eagerBytes, 0)
        try createAndReceive(64 * page, "smaf-memfd")
        XCTAssertEqual(exports.counts.hits, 4)
        XCTAssertEqual(status(d).buffers, 9)
        for fd in fds { close(fd) }
        waitUntilNoBuffers(d)
        XCTAssertEqual(status(d).buffers, 0, "a pooled buffer's end is seen like any other")
        XCTAssertTrue(d.status(viewer: 0).rendered.contains(#""exports_hits":4,"exports_misses":3,"exports_made":12"#), d.status(viewer: 0).rendered)
        exports.close()
        var handedOut = false
        if let _ = exports.take(heap, length: 2 * page) { handedOut = true }
        XCTAssertFalse(handedOut, "closed: nothing is handed out")
    }

    func testALimitReadsPendingEndsBeforeItRefuses() throws {
        // No event loop drains this lifetime: ends stay queued in inotify.
        let quiet = try BufferLifetime(table: BufferTable(), logger: logs.logger)
        let module = SecurePolicy.testsecure.makeModule()
        let r = AllocatorRegistry(securing: module)
        try r.register(MemfdAllocator())
        let d = SmafDevice(registry: r, secureModule: module, handoff: server, lifetime: quiet,
                           limits: Limits(maxBufferSize: 1 << 20, maxBuffersPerUser: 2, maxBytesPerUser: 1 << 20),
                           logger: logs.logger)
        let sock = try connectChannel()
        defer { close(sock) }
        XCTAssertNotNil(create(d, length: 4096).successValue)
        let first = try receive(sock).fd
        XCTAssertNotNil(create(d, length: 4096).successValue)
        let second = try receive(sock).fd
        XCTAssertEqual(create(d, length: 4096).failureErrno, .EMFILE, "two live buffers: at the limit")
        close(first)
        XCTAssertEqual(quiet.table.count, 2, "the end is only queued")
        XCTAssertNotNil(create(d, length: 4096).successValue, "the refusal read the queued end first")
        close(try receive(sock).fd)
        close(second)
        XCTAssertEqual(status(d).buffers, 0, "a status reads them too")
    }
}
