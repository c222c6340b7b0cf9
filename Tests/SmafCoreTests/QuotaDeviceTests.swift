// SPDX-License-Identifier: MIT
import SmafABI
import Logging
import SmafCore
import SmafTestSupport
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Quotas through CREATE, end to end (HandoffTests' real socket and inotify
/// lifetimes): refusal for one owner only, the log line, status and the
/// buffer list, and the quota given back when the buffers die.
extension HandoffTests {
    /// Replaces the fixture's lifetime and server by ones keeping `limits`.
    func quotaDevice(_ limits: QuotaLimits, cgroup: CgroupBox, extra: (any Allocator)? = nil) throws -> SmafDevice {
        events.stop()
        lifetime = try BufferLifetime(table: BufferTable(), quotas: QuotaLedger(limits: limits), logger: logs.logger)
        server = try HandoffChannels(directory: "\(dir)/run", name: "quota", logger: logs.logger)
        events = EventLoop(channels: server, lifetime: lifetime, logger: logs.logger)
        try events.start()
        let r = AllocatorRegistry(securing: nil)
        // An eager allocator nobody's cgroup pays for (memfd-backed here) and smaf-memfd.
        try r.register(NamedAllocator.dmabuf("smaf-heap-test", ranking: 2))
        try r.register(MemfdAllocator())
        if let extra { try r.register(extra) }
        return SmafDevice(registry: r, secureModule: nil, handoff: server, lifetime: lifetime,
                          environment: CgroupOverride(box: cgroup), logger: logs.logger)
    }

    func testQuotaRefusesOneOwnerCountsOnlyUnaccountedMemoryAndComesBack() throws {
        let page: UInt64 = 4096
        let cgroup = CgroupBox("/qa")
        let d = try quotaDevice(QuotaLimits(perUser: 5 * page, perCgroup: 3 * page, total: .max), cgroup: cgroup)
        let sock = try connectChannel()
        defer { close(sock) }
        for _ in 0..<100 where status(d).channels != 1 { usleep(10_000) }
        var fds: [Int32] = []
        for _ in 0..<3 {
            XCTAssertNotNil(create(d, length: page, name: "smaf-heap-test").successValue)
            fds.append(try receive(sock).fd)
        }
        XCTAssertEqual(create(d, length: page, name: "smaf-heap-test").failureErrno, .ENOMEM, "cgroup /qa is at 3 pages")
        XCTAssertTrue(logs.contains("quota: uid \(getuid()) in cgroup /qa asks 4096 bytes; cgroup /qa already hold 12288 of --cgroup-limit 12288"),
                      logs.messages(at: .debug).joined(separator: "\n"))
        XCTAssertNotNil(create(d, length: 64 * page, name: "smaf-memfd").successValue, "caller-charged memory is not counted")
        fds.append(try receive(sock).fd)
        cgroup.path.withLock { $0 = "/qb" }
        // A move is seen within CgroupCache.lifetime: until then the caller
        // is still charged to /qa, which is full.
        XCTAssertEqual(create(d, length: page, name: "smaf-heap-test").failureErrno, .ENOMEM, "the move is not seen yet")
        usleep(useconds_t(CgroupCache.lifetime * 1000 + 100_000))
        for _ in 0..<2 {
            XCTAssertNotNil(create(d, length: page, name: "smaf-heap-test").successValue, "another cgroup of the same user")
            fds.append(try receive(sock).fd)
        }
        XCTAssertEqual(create(d, length: page, name: "smaf-heap-test").failureErrno, .ENOMEM, "the user is at 5 pages")
        XCTAssertTrue(logs.contains("uid \(getuid()) already hold 20480 of --user-limit 20480"), logs.messages(at: .debug).joined(separator: "\n"))

        let q = d.status(viewer: 0).rendered
        XCTAssertTrue(q.contains(#""total":{"buffers":6,"bytes":282624,"quota_bytes":20480}"#), q)
        XCTAssertTrue(q.contains(#"{"cgroup":"/qa","buffers":4,"bytes":274432,"quota_bytes":12288,"limit":12288}"#), q)
        XCTAssertTrue(q.contains(#"{"cgroup":"/qb","buffers":2,"bytes":8192,"quota_bytes":8192,"limit":12288}"#), q)
        XCTAssertTrue(q.contains(#"{"allocator":"smaf-memfd","buffers":1,"bytes":262144,"quota_bytes":0}"#), q)
        XCTAssertTrue(q.contains(#""quota_bytes":20480,"quota_limit":20480"#), q)
        XCTAssertTrue(q.contains(#""counted_allocators":["smaf-heap-test"]"#), q)
        XCTAssertTrue(d.info().rendered.contains(#""charged_to":"no one","committed_at":"creation","quota_counted":true"#))

        let list = d.listBuffers(viewer: getuid()).rendered
        XCTAssertTrue(list.hasPrefix(#"{"live_buffers":6,"listed":6,"buffers":[{"pid":\#(getpid()),"uid":\#(getuid()),"cgroup":"/qa","allocator":"smaf-heap-test","bytes":4096,"quota_counted":true,"age_seconds":"#), list)
        XCTAssertTrue(list.contains(#""open_in":[\#(getpid())],"mapped_in":[]"#), list)
        XCTAssertTrue(d.listBuffers(viewer: getuid() &+ 1).rendered.hasPrefix(#"{"live_buffers":0,"#), "others see none of them")

        fds.forEach { close($0) }
        waitUntilNoBuffers(d)
        let after = d.quotas!.snapshot()
        XCTAssertEqual(after.total, QuotaUsage(), "closing gives everything back")
        XCTAssertTrue(after.users.isEmpty && after.cgroups.isEmpty && after.allocators.isEmpty)
        XCTAssertNotNil(create(d, length: 2 * page, name: "smaf-heap-test").successValue, "and the quota is usable again")
        close(try receive(sock).fd)
    }

    func testBufferListShowsTheOldest200AndFitsOneMessage() throws {
        let d = try device()
        for i in 0..<250 {
            var r = BufferRecord(length: 4096, flags: 2, allocator: String(repeating: "a", count: 60), ownerUID: 1000)
            r.createdAt = UInt64(i)
            d.buffers.insert(r, for: FileIdentity(device: 1, inode: UInt64(i)))
        }
        let list = d.listBuffers(viewer: 0).rendered
        XCTAssertTrue(list.hasPrefix(#"{"live_buffers":250,"listed":200,"#), String(list.prefix(80)))
        XCTAssertLessThanOrEqual(list.utf8.count, HandoffProtocol.queryMax - HandoffProtocol.messageSize)
        XCTAssertTrue(d.listBuffers(viewer: 1000).rendered.hasPrefix(#"{"live_buffers":250,"listed":200,"#), "the owner sees its own")
        XCTAssertTrue(d.listBuffers(viewer: 1001).rendered.hasPrefix(#"{"live_buffers":0,"listed":0,"#))
    }

    func testAFailedCreateGivesItsChargeBack() throws {
        let d = try quotaDevice(QuotaLimits(perUser: 1 << 20, perCgroup: .max, total: .max), cgroup: CgroupBox("/qa"),
                                extra: FailingAllocator())
        let sock = try connectChannel()
        defer { close(sock) }
        for _ in 0..<100 where status(d).channels != 1 { usleep(10_000) }
        XCTAssertEqual(create(d, length: 4096, name: "smaf-heap-failing").failureErrno, .ENOMEM, "the allocator fails after the charge")
        XCTAssertEqual(d.quotas!.snapshot().total, QuotaUsage(), "and the charge is given back")
    }
}

/// Eager and counted, and always out of memory.
struct FailingAllocator: Allocator {
    let name = "smaf-heap-failing"
    let ranking: Int32 = 0
    let properties = NamedAllocator.dmabuf("x", ranking: 0).properties
    func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD { throw AllocationFailure(.ENOMEM, "test") }
}

/// A cgroup a test can move its process into, as seen by smafd.
final class CgroupBox: Sendable {
    let path: Mutex<String>
    init(_ p: String) { path = Mutex(p) }
}

struct CgroupOverride: CallerEnvironment {
    let box: CgroupBox
    let real = ProcFSEnvironment()
    func fileIdentity(ofFD fd: Int32, inThread tid: Int32) -> FileIdentity? { real.fileIdentity(ofFD: fd, inThread: tid) }
    func processID(ofThread tid: Int32) -> Int32? { real.processID(ofThread: tid) }
    func cgroup(ofProcess pid: Int32) -> String { box.path.withLock { $0 } }
}
