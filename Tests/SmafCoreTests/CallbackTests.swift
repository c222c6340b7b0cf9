// SPDX-License-Identifier: MIT
@testable import SmafCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The pools' wake-up and the query responder: set once, called often. (That
/// calls do not grow anything is checked where it showed, in release builds:
/// smaf-core-bench's rounds of CREATEs, docs/performance.md.)
final class CallbackTests: XCTestCase {
    func testALateCallbackAnswersOnceSetAndNilBefore() {
        let cb = LateCallback<Int, Int>()
        XCTAssertNil(cb(1))
        cb.set { $0 * 2 }
        XCTAssertEqual(cb(21), 42)
        cb.set { $0 + 1 }
        XCTAssertEqual(cb(41), 42, "the last set wins")
    }
}
