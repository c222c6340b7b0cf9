// SPDX-License-Identifier: MIT
import SmafABI

/// Requests by descriptor and refusals by errno, for `status`.
struct RequestCounters {
    /// One slot per descriptor of RequestDescriptor.all, then unknown numbers.
    private var requests = [UInt64](repeating: 0, count: RequestDescriptor.all.count + 1)
    var refusals: [Int32: UInt64] = [:]

    mutating func count(_ d: RequestDescriptor) { requests[d.slot] += 1 }
    mutating func countUnknown() { requests[RequestDescriptor.all.count] += 1 }

    /// How often each request came: the v10 requests and the extensions by
    /// name, the older generations' numbers together as "legacy", numbers
    /// no table knows as "other".
    var requestsByName: [(String, UInt64)] {
        let named = RequestDescriptor.all.filter { !$0.isLegacy }.map { ($0.name, requests[$0.slot]) }
        let legacy = RequestDescriptor.legacy.reduce(UInt64(0)) { $0 + requests[$1.slot] }
        return named + [("legacy", legacy), ("other", requests[RequestDescriptor.all.count])]
    }

    /// One request's count (tests).
    func count(of number: UInt32) -> UInt64? { RequestDescriptor.lookup(number).map { requests[$0.slot] } }
}
