// SPDX-License-Identifier: MIT
import SmafABI
import Foundation
import SmafCore
import XCTest

final class JSONTests: XCTestCase {
    func testRenderingIsValidJSONWithEscapes() throws {
        let v = JSONValue.object([
            ("quote\"back\\slash", .string("line\nbreak\ttab\u{1}ctl é ✓")),
            ("n", .int(-5)), ("u", .uint(UInt64.max)), ("b", .bool(true)),
            ("list", .array([.int(1), .object([]), .array([])])),
        ])
        let text = v.rendered
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["quote\"back\\slash"] as? String, "line\nbreak\ttab\u{1}ctl é ✓")
        XCTAssertEqual(parsed["n"] as? Int, -5)
        XCTAssertEqual(parsed["b"] as? Bool, true)
        XCTAssertTrue(text.hasPrefix("{\"quote"), "keys keep their order")
        XCTAssertTrue(text.contains("\\u0001"))
    }
}
