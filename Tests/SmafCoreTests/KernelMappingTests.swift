// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
@testable import SmafCore
import SmafTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// An allocator declared as a dma-buf exporter whose kernel mappings are
/// `verdict` (buffers are memfds).
func kmapAllocator(_ name: String, ranking: Int32, _ verdict: KernelMappings.Verdict,
                   contiguous: Bool = false) -> NamedAllocator {
    var a = NamedAllocator.dmabuf(name, ranking: ranking, contiguous: contiguous)
    a.properties.kernelMappings = KernelMappings(verdict, "test")
    return a
}

/// A judge that answers from a table: wrong pixels per allocator name, or
/// a failure when the name is missing.
struct ScriptedJudge: KernelMappingJudge {
    let name = "scripted"
    let probePixels = 100
    var wrong: [String: Int]
    func check(_ allocator: any Allocator) -> Result<Int, AllocationFailure> {
        wrong[allocator.name].map { .success($0) } ?? .failure(AllocationFailure(.EINVAL, "no card"))
    }
}

/// Facts scripted by minor: those in `kernelMapping` use buffers through
/// kernel mappings, those in `contiguous` need contiguous memory.
struct KernelMappingFacts: DeviceFactSource {
    var contiguous: Set<UInt32> = []
    var kernelMapping: Set<UInt32> = []
    func facts(major: UInt32, minor: UInt32) -> DeviceFacts {
        var f = DeviceFacts(device: "c \(major):\(minor)")
        f.contiguous = contiguous.contains(minor)
        f.kernelMapping = kernelMapping.contains(minor)
        f.sources = DeviceFactSources.udev
        return f
    }
}

final class KernelMappingTests: XCTestCase {
    func testTheRuleForUdmabufByKernel() {
        for release in ["6.11.0-1-amd64", "6.12.117+deb12-amd64", "6.13.2", "7.0.0"] {
            XCTAssertEqual(KernelMappingRule.udmabuf(hugetlb: true, release: release, shmemLargeFolios: false).verdict, .wrong, release)
            XCTAssertEqual(KernelMappingRule.udmabuf(hugetlb: false, release: release, shmemLargeFolios: false).verdict, .correct, release)
            XCTAssertEqual(KernelMappingRule.udmabuf(hugetlb: false, release: release, shmemLargeFolios: true).verdict, .wrong, release)
        }
        for release in ["6.1.0-57-amd64", "6.10.14", "5.16.0"] {
            for hugetlb in [false, true] {
                XCTAssertEqual(KernelMappingRule.udmabuf(hugetlb: hugetlb, release: release, shmemLargeFolios: true).verdict, .correct,
                               "\(release) hugetlb \(hugetlb)")
            }
        }
        let v = KernelMappingRule.udmabuf(hugetlb: true, release: "6.12.117+deb12-amd64", shmemLargeFolios: false)
        XCTAssertTrue(v.source.hasPrefix("rule: on kernel 6.12.117+deb12-amd64"), v.source)
        XCTAssertNil(KernelMappingRule.version(of: "nonsense"))
        XCTAssertEqual(KernelMappingRule.udmabuf(hugetlb: true, release: "nonsense", shmemLargeFolios: false).verdict, .correct)
    }

    func testShmemLargeFoliosFromSysfs() throws {
        let sys = NSTemporaryDirectory() + "kmap-sys-\(getpid())"
        let base = sys + "/kernel/mm/transparent_hugepage"
        try FileManager.default.createDirectory(atPath: base + "/hugepages-64kB", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: sys) }
        func set(_ top: String, _ size64: String) throws {
            try "always within_size advise \(top == "never" ? "[never]" : "never") deny force"
                .replacingOccurrences(of: top == "never" ? "" : top, with: top == "never" ? "" : "[\(top)]")
                .write(toFile: base + "/shmem_enabled", atomically: true, encoding: .utf8)
            try "always inherit within_size advise never"
                .replacingOccurrences(of: size64, with: "[\(size64)]")
                .write(toFile: base + "/hugepages-64kB/shmem_enabled", atomically: true, encoding: .utf8)
        }
        let cases: [(String, String, Bool)] = [
            ("never", "never", false), ("never", "inherit", false), ("advise", "never", false), ("deny", "advise", false),
            ("always", "never", true), ("within_size", "never", true), ("force", "never", true),
            ("never", "always", true), ("never", "within_size", true),
        ]
        for (top, size64, expected) in cases {
            try set(top, size64)
            XCTAssertEqual(KernelMappingRule.shmemLargeFolios(sysDirectory: sys), expected, "top \(top), 64 kB \(size64)")
        }
        XCTAssertFalse(KernelMappingRule.shmemLargeFolios(sysDirectory: sys + "/missing"), "no THP in sysfs: no large folios")
    }

    func testOverridesParse() throws {
        XCTAssertEqual(try KernelMappings.parseOverrides(["a=wrong,b=correct", "c=correct"]),
                       ["a": .wrong, "b": .correct, "c": .correct])
        for bad in ["a", "a=maybe", "=wrong", "a=n/a", "a=wrong,b"] {
            XCTAssertThrowsError(try KernelMappings.parseOverrides([bad]), bad) { error in
                XCTAssertTrue("\(error)".contains("expected NAME=correct or NAME=wrong"), "\(error)")
            }
        }
    }

    func testAssessmentTakesTheOptionThenTheSelfTestThenTheDeclaration() {
        var discovery = AllocatorDiscovery()
        discovery.kernelMappingOverrides = ["forced": .correct]
        discovery.makeJudge = { ScriptedJudge(wrong: ["good": 0, "bad": 37, "forced": 99]) }
        let found: [any Allocator] = [
            kmapAllocator("good", ranking: 3, .wrong), kmapAllocator("bad", ranking: 2, .correct),
            kmapAllocator("forced", ranking: 1, .wrong), kmapAllocator("untested", ranking: 0, .wrong), MemfdAllocator(),
        ]
        var notes: [String] = []
        let out = Dictionary(uniqueKeysWithValues: discovery.assessKernelMappings(found, notes: &notes).map {
            ($0.name, $0.properties.kernelMappings)
        })
        XCTAssertEqual(out["good"], KernelMappings(.correct, "self-test: scripted read back every pixel right"))
        XCTAssertEqual(out["bad"], KernelMappings(.wrong, "self-test: scripted read back 37 of 100 pixels wrong"))
        XCTAssertEqual(out["forced"], KernelMappings(.correct, "--kernel-mappings forced=correct"))
        XCTAssertEqual(out["untested"], KernelMappings(.wrong, "test"), "the judge could not run: the declaration stays")
        XCTAssertEqual(out["smaf-memfd"], .cpuOnly)
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].contains("untested: the kernel-mapping self-test through scripted could not run (no card)"), notes[0])

        discovery.makeJudge = nil
        notes = []
        _ = discovery.assessKernelMappings(found, notes: &notes)
        XCTAssertEqual(notes, ["kernel-mapping self-test off (--no-kernel-mapping-self-test): verdicts come from the rule"])
        discovery.makeJudge = { nil }
        notes = []
        _ = discovery.assessKernelMappings(found, notes: &notes)
        XCTAssertEqual(notes, ["no kernel-mapping self-test (no vkms card): verdicts come from the rule"])
    }

    func testUnnamedChoicePassesOverWrongKernelMappingsWhenACorrectOneWouldDo() throws {
        func registry(_ allocators: [any Allocator]) throws -> AllocatorRegistry {
            let r = AllocatorRegistry()
            for a in allocators { try r.register(a) }
            return r
        }
        let wrong = kmapAllocator("wrong", ranking: 100, .wrong), right = kmapAllocator("right", ranking: 50, .correct)
        XCTAssertEqual(try registry([wrong, right, MemfdAllocator()]).choose()?.name, "right")
        XCTAssertEqual(try registry([wrong, MemfdAllocator()]).choose()?.name, "wrong", "no correct one: rank order")
        let memfdFirst = RerankedAllocator(MemfdAllocator(), ranking: 1000)
        XCTAssertEqual(try registry([wrong, right, memfdFirst]).choose()?.name, "smaf-memfd", "n/a is not wrong")
        // Too big for the correct one: the wrong one is all there is.
        let small = kmapAllocator("small", ranking: 50, .correct)
        let r = try registry([wrong, NamedAllocator(name: "tiny", ranking: 10, properties: {
            var p = small.properties
            p.maxSize = 4096
            return p
        }())])
        XCTAssertEqual(r.choose(length: 1 << 20)?.name, "wrong")
        XCTAssertEqual(r.choose(length: 4096)?.name, "tiny")
    }

    func testAKernelMappingDeviceNeverGetsWrongKernelMappings() {
        var c = DeviceConstraints()
        var f = DeviceFacts(device: "c 81:1")
        f.kernelMapping = true
        f.contiguous = true
        c.add(f)
        XCTAssertEqual(c.needsBits, 0x7)
        XCTAssertEqual(c.combinedNeeds, ["physically contiguous memory", "correct kernel mappings"])
        let hugetlb = kmapAllocator("contig", ranking: 30, .wrong, contiguous: true)
        XCTAssertTrue(hugetlb.unmetConstraint(c, length: 4096)?.hasPrefix("correct kernel mappings") == true)
        c.kernelMapping = false
        XCTAssertNil(hugetlb.unmetConstraint(c, length: 4096), "a DMA device is not hurt by a wrong kernel mapping")
    }

    func testFactsTakeADeviceWithoutDMAForAKernelMappingOne() {
        let f = SystemDeviceFacts().facts(major: 1, minor: 3)  // /dev/null: /sys/devices/virtual/mem/null
        XCTAssertTrue(f.kernelMapping)
        XCTAssertNotEqual(f.sources & DeviceFactSources.noDMA, 0)
        let unknown = SystemDeviceFacts().facts(major: 4000, minor: 4000)
        XCTAssertFalse(unknown.kernelMapping, "nothing known: no need claimed")
    }

    func testDeclaredDefaults() {
        XCTAssertEqual(MemfdAllocator().properties.kernelMappings, .cpuOnly)
        XCTAssertEqual(NamedAllocator.dmabuf("x", ranking: 0).properties.kernelMappings, .pageByPage)
    }
}

extension HandoffTests {
    func testCreateForRefusesWhatAKernelMappingDeviceWouldCorrupt() throws {
        let sock = try connectChannel()
        defer { close(sock) }
        let d = try device(allocators: [MemfdAllocator(), kmapAllocator("sg", ranking: 10, .correct),
                                        kmapAllocator("contig", ranking: 5, .wrong, contiguous: true)],
                           deviceFacts: KernelMappingFacts(contiguous: [3, 5], kernelMapping: [3]))
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC), zero = open("/dev/zero", O_RDONLY | O_CLOEXEC)
        defer { close(null); close(zero) }
        // 1:5 needs contiguous memory only (a DMA device): the contiguous one.
        XCTAssertNotNil(createFor(d, fds: [zero]).successValue)
        let (_, fd, _) = try receive(sock)
        XCTAssertEqual(allocator(of: fd, d), "contig")
        close(fd)
        // 1:3 needs it through a kernel mapping too: nothing gives both.
        XCTAssertEqual(createFor(d, fds: [null]).failureErrno, .EINVAL)
        XCTAssertTrue(logs.contains("contig cannot give correct kernel mappings"))
        XCTAssertTrue(logs.contains("the devices need physically contiguous memory and correct kernel mappings, and no allocator on this kernel gives both"))
        let answer = try devices(d, fds: [null]).get()
        XCTAssertEqual(answer.needs, 0x7)
        XCTAssertEqual(answer.mask, 0, "no allocator serves it")
    }
}
