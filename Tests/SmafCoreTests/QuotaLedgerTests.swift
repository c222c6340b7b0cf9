// SPDX-License-Identifier: MIT
import SmafABI
import SmafCore
import XCTest

/// The quota arithmetic, the cgroup path reader and the option syntax.
final class QuotaLedgerTests: XCTestCase {
    let a = QuotaOwner(uid: 1000, cgroup: "/qa")
    let b = QuotaOwner(uid: 1001, cgroup: "/qb")

    func testUserLimitRefusesOnlyThatUserAndReleaseGivesItBack() throws {
        let ledger = QuotaLedger(limits: QuotaLimits(perUser: 100, perCgroup: .max, total: 1000))
        let first = try ledger.charge(owner: a, bytes: 60, allocator: "smaf-heap-system", charge: .nobody)
        XCTAssertThrowsError(try ledger.charge(owner: a, bytes: 41, allocator: "smaf-heap-system", charge: .nobody)) { e in
            let r = e as! QuotaRefusal
            XCTAssertEqual(r.kind, .user)
            XCTAssertEqual(r.held, 60)
            XCTAssertEqual(r.limit, 100)
            XCTAssertTrue(r.description.contains("uid 1000 in cgroup /qa asks 41 bytes"), r.description)
            XCTAssertTrue(r.description.contains("--user-limit 100"), r.description)
        }
        XCTAssertNoThrow(try ledger.charge(owner: a, bytes: 40, allocator: "smaf-udmabuf", charge: .smafd), "exactly at the limit fits")
        XCTAssertNoThrow(try ledger.charge(owner: b, bytes: 100, allocator: "smaf-heap-system", charge: .nobody), "another user is unaffected")
        var s = ledger.snapshot()
        XCTAssertEqual(s.users[1000], QuotaUsage(buffers: 2, bytes: 100, counted: 100))
        XCTAssertEqual(s.allocators["smaf-heap-system"], QuotaUsage(buffers: 2, bytes: 160, counted: 160))
        XCTAssertEqual(s.total.counted, 200)
        ledger.release(first)
        s = ledger.snapshot()
        XCTAssertEqual(s.users[1000]?.counted, 40)
        XCTAssertNoThrow(try ledger.charge(owner: a, bytes: 60, allocator: "smaf-heap-system", charge: .nobody), "the quota came back")
    }

    func testCallerChargedMemoryIsRecordedButNotCountedUnlessAsked() throws {
        let ledger = QuotaLedger(limits: QuotaLimits(perUser: 10, perCgroup: 10, total: 10))
        let c = try ledger.charge(owner: a, bytes: 1 << 30, allocator: "smaf-memfd", charge: .caller)
        XCTAssertFalse(c.counted)
        XCTAssertEqual(ledger.snapshot().users[1000], QuotaUsage(buffers: 1, bytes: 1 << 30, counted: 0))
        ledger.release(c)
        XCTAssertTrue(ledger.snapshot().users.isEmpty, "an entry goes with its last buffer")
        XCTAssertTrue(ledger.snapshot().cgroups.isEmpty)
        XCTAssertTrue(ledger.snapshot().allocators.isEmpty)
        let counting = QuotaLedger(limits: QuotaLimits(perUser: 10, perCgroup: 10, total: 10, countedAllocators: ["smaf-vgem"]))
        XCTAssertThrowsError(try counting.charge(owner: a, bytes: 11, allocator: "smaf-vgem", charge: .caller))
        XCTAssertNoThrow(try counting.charge(owner: a, bytes: 11, allocator: "smaf-memfd", charge: .caller))
    }

    func testCgroupAndTotalLimitsAndTheUnboundedRootCgroup() throws {
        let ledger = QuotaLedger(limits: QuotaLimits(perUser: 1000, perCgroup: 50, total: 120, cgroups: ["/big": 100]))
        let sameUserOtherCgroup = QuotaOwner(uid: 1000, cgroup: "/qb")
        _ = try ledger.charge(owner: a, bytes: 50, allocator: "h", charge: .nobody)
        XCTAssertThrowsError(try ledger.charge(owner: a, bytes: 1, allocator: "h", charge: .nobody)) {
            XCTAssertEqual(($0 as! QuotaRefusal).kind, .cgroup)
        }
        XCTAssertNoThrow(try ledger.charge(owner: sameUserOtherCgroup, bytes: 50, allocator: "h", charge: .nobody),
                         "the same user in another cgroup has that cgroup's quota")
        XCTAssertThrowsError(try ledger.charge(owner: QuotaOwner(uid: 7, cgroup: "/"), bytes: 21, allocator: "h", charge: .nobody)) {
            XCTAssertEqual(($0 as! QuotaRefusal).kind, .total, "the root cgroup has no bound of its own; the total stops it")
        }
        XCTAssertNoThrow(try ledger.charge(owner: QuotaOwner(uid: 7, cgroup: "/"), bytes: 20, allocator: "h", charge: .nobody))
        XCTAssertEqual(ledger.limits.limit(forCgroup: "/big"), 100)
        XCTAssertNil(ledger.limits.limit(forCgroup: "/"))
        XCTAssertThrowsError(try ledger.charge(owner: a, bytes: .max, allocator: "h", charge: .nobody), "no overflow")
    }

    func testConcurrentChargesNeverOvershoot() {
        let ledger = QuotaLedger(limits: QuotaLimits(perUser: 1000, perCgroup: .max, total: .max))
        let granted = Granted()
        DispatchQueue.concurrentPerform(iterations: 400) { _ in
            if (try? ledger.charge(owner: self.a, bytes: 7, allocator: "h", charge: .nobody)) != nil { granted.add() }
        }
        XCTAssertEqual(granted.count, 142, "1000 / 7 charges fit, not one more")
        XCTAssertEqual(ledger.snapshot().users[1000]?.counted, 994)
    }

    func testDefaultsAreAQuarterPerUserAndCgroupAndHalfInTotal() {
        let d = QuotaLimits.defaults(physicalMemory: 2 << 30)
        XCTAssertEqual(d.perUser, 512 << 20)
        XCTAssertEqual(d.perCgroup, 512 << 20)
        XCTAssertEqual(d.total, 1 << 30)
        XCTAssertTrue(d.countedAllocators.isEmpty)
    }

    func testCgroupPathParsing() {
        XCTAssertEqual(CgroupReader.parse("0::/user.slice/user-1000.slice/session-2.scope\n"), "/user.slice/user-1000.slice/session-2.scope")
        XCTAssertEqual(CgroupReader.parse("12:memory:/x\n1:name=systemd:/y\n0::/\n"), "/")
        XCTAssertEqual(CgroupReader.parse("0::/qa (deleted)\n"), "/qa")
        XCTAssertEqual(CgroupReader.parse("4:memory:/only-v1\n"), "/", "no unified hierarchy: the root entry")
        XCTAssertEqual(CgroupReader.cgroup(ofProcess: -1), "/")
        XCTAssertTrue(CgroupReader.cgroup(ofProcess: getpid()).hasPrefix("/"))
    }

    func testOptionSyntax() throws {
        let l = try QuotaLimits.parse(userLimits: ["1G", "1000=2G", "1001=unlimited"], cgroupLimits: ["256M", "/qa/=64M", "/=1G"],
                                      totalLimit: "3G", countedAllocators: ["smaf-vgem"], physicalMemory: 8 << 30)
        XCTAssertEqual(l.perUser, 1 << 30)
        XCTAssertEqual(l.limit(forUser: 1000), 2 << 30)
        XCTAssertEqual(l.limit(forUser: 1001), .max)
        XCTAssertEqual(l.limit(forUser: 5), 1 << 30)
        XCTAssertEqual(l.limit(forCgroup: "/qa"), 64 << 20, "a trailing slash is dropped")
        XCTAssertEqual(l.limit(forCgroup: "/other"), 256 << 20)
        XCTAssertEqual(l.limit(forCgroup: "/"), 1 << 30)
        XCTAssertEqual(l.total, 3 << 30)
        XCTAssertTrue(l.counts(allocator: "smaf-vgem", charge: .caller))
        let d = try QuotaLimits.parse(userLimits: [], cgroupLimits: [], totalLimit: nil, countedAllocators: [], physicalMemory: 8 << 30)
        XCTAssertEqual(d, .defaults(physicalMemory: 8 << 30))
        for (users, cgroups, total) in [(["lots"], [String](), nil as String?), (["bob=1G"], [], nil), (["=1G"], [], nil),
                                        ([], ["qa=1G"], nil), ([], ["-5M"], nil), ([], [], "x")] {
            XCTAssertThrowsError(try QuotaLimits.parse(userLimits: users, cgroupLimits: cgroups, totalLimit: total, countedAllocators: []),
                                 "\(users) \(cgroups) \(total ?? "")")
        }
    }

    func testEveryAllocatorDeclaresWhoPaysAndWhen() {
        XCTAssertEqual(MemfdAllocator().properties.charge, .caller)
        XCTAssertEqual(MemfdAllocator().properties.commit, .firstTouch)
        XCTAssertEqual(SecretmemAllocator().properties.charge, .caller)
        let node = ExporterNode(path: "/dev/null")!
        let heap = DmaHeapAllocator(heap: "null", directory: "/dev")!.properties
        XCTAssertEqual([heap.charge.rawValue, heap.commit.rawValue], ["no one", "creation"])
        let udmabuf = UdmabufAllocator(node: node, memory: .shmem, sizeLimit: 64 << 20).properties
        XCTAssertEqual([udmabuf.charge.rawValue, udmabuf.commit.rawValue], ["smafd", "pinned"])
        let huge = UdmabufAllocator(node: node, memory: .hugetlb(pageSize: 2 << 20), sizeLimit: 64 << 20).properties
        XCTAssertEqual([huge.charge.rawValue, huge.commit.rawValue], ["no one", "pinned"])
        let vgem = DrmDumbAllocator(node: node, driver: "vgem").properties
        XCTAssertEqual([vgem.charge.rawValue, vgem.commit.rawValue], ["caller", "first touch"])
        XCTAssertEqual(DrmDumbAllocator(node: node, driver: "pl111").properties.charge, .nobody)
    }
}

private final class Granted: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// smafd's own cgroup bound, read from a directory laid out like cgroupfs.
final class OwnCgroupTests: XCTestCase {
    func testMemoryChargedToSmafdMustFitBelowTheLowerOfHighAndMax() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smaf-owncg-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ file: String, _ text: String) throws { try text.write(toFile: "\(dir)/\(file)", atomically: true, encoding: .utf8) }
        let g = OwnCgroup(directory: dir, margin: 10)
        XCTAssertNil(g.shortfall(for: 1 << 40), "no cgroup files: nothing to check")
        try write("memory.current", "100\n")
        try write("memory.max", "max\n")
        try write("memory.high", "max\n")
        XCTAssertNil(g.shortfall(for: 1 << 40), "no bound")
        try write("memory.max", "1000\n")
        XCTAssertNil(g.shortfall(for: 890))
        XCTAssertNotNil(g.shortfall(for: 891))
        try write("memory.high", "500\n")
        let why = try XCTUnwrap(g.shortfall(for: 391))
        XCTAssertTrue(why.contains("holds 100 bytes; 391 more") && why.contains("memory.high (MemoryHigh=) 500"), why)
        XCTAssertNil(g.shortfall(for: 390))
        XCTAssertNotNil(g.shortfall(for: .max), "no overflow")
    }
}
