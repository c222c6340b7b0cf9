// SPDX-License-Identifier: MIT
import SmafABI
import Logging
import SmafCore
import SmafTestSupport
import XCTest

/// `status`'s request counters are keyed by descriptor: each request of
/// the table counts under its own name (the older generations together as
/// "legacy"), served or refused, and under no other.
final class RequestCounterTests: XCTestCase {
    private func device(_ generations: AbiGenerations) throws -> SmafDevice {
        let registry = AllocatorRegistry()
        try registry.register(MemfdAllocator())
        return SmafDevice(registry: registry, secureModule: SecurePolicy.testsecure.makeModule(),
                          environment: FakeEnvironment(threadToProcess: [4242: 4200]), pageSize: 4096,
                          generations: generations, logger: CapturedLogs().logger)
    }

    private func requests(_ d: SmafDevice) -> [String: UInt64] {
        guard case .object(let fields) = d.status(), case .object(let r)? = fields.first(where: { $0.0 == "requests" })?.1 else {
            XCTFail("no requests in status")
            return [:]
        }
        var out: [String: UInt64] = [:]
        for (k, v) in r { if case .uint(let n) = v { out[k] = n } }
        return out
    }

    func testEachRequestCountsUnderItsOwnKey() throws {
        let caller = Caller(tid: 4242, uid: 1000, gid: 1000)
        for generations in [AbiGenerations.all, .default] {
            for r in RequestDescriptor.all {
                let d = try device(generations)
                _ = d.ioctl(request: r.number, input: [UInt8](repeating: 0, count: r.size), caller: caller)
                XCTAssertEqual(d.requestCount(r.number), 1, r.description)
                for other in RequestDescriptor.all where other.number != r.number {
                    XCTAssertEqual(d.requestCount(other.number), 0, "\(r.description) counted as \(other.description)")
                }
                let key = r.isLegacy ? "legacy" : r.name
                for (k, n) in requests(d) {
                    XCTAssertEqual(n, k == key ? 1 : 0, "\(r.description): status requests[\(k)]")
                }
            }
        }
        let d = try device(.all)
        _ = d.ioctl(request: 0xC080_5399, input: [UInt8](repeating: 0, count: 128), caller: caller)
        XCTAssertEqual(requests(d).filter { $0.value > 0 }.map(\.key), ["other"])
    }

    func testStatusNamesEveryV10AndExtensionRequest() throws {
        let keys = Set(requests(try device(.default)).keys)
        XCTAssertEqual(keys, Set(SmafRequest.allCases.map(\.name) + SmafExtensionRequest.allCases.map(\.name) + ["legacy", "other"]))
    }
}
