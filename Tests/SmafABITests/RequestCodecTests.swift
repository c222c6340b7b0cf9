// SPDX-License-Identifier: MIT
import SmafABI
import XCTest

/// Decoding a struct into its typed call and encoding a reply into its echo.
final class RequestCodecTests: XCTestCase {
    private func decode(_ number: UInt32, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Result<SmafCall, DecodeRefusal> {
        let d = RequestDescriptor.lookup(number)!
        var b = [UInt8](repeating: 0, count: d.size)
        b.withUnsafeMutableBytes(fill)
        return b.withUnsafeBytes { d.decode($0) }
    }

    func testPreV8CreateFlagsAreMaskedAndV10sAreNot() {
        let v3 = RequestDescriptor.legacy.first { $0.name == "v3-v7 CREATE" && $0.size == 80 }!
        guard case .success(.create(let a)) = decode(v3.number, { $0.setField(0, UInt64(4096)); $0.setField(8, UInt32(0o102)) }) else {
            return XCTFail("v3 CREATE did not decode")
        }
        XCTAssertEqual(a.flags, 0o2, "bits outside SMAF_RDWR|SMAF_CLOEXEC were ignored before v8")
        XCTAssertEqual(a.length, 4096)
        guard case .success(.create(let b)) = decode(SmafRequest.create.rawValue, { $0.setField(16, UInt32(0o102)) }) else {
            return XCTFail("v10 CREATE did not decode")
        }
        XCTAssertEqual(b.flags, 0o102, "v10 keeps them, for CREATE to refuse")
    }

    func testCreateReplyEchoesWithTheTokenAndTerminatesV10NamesOnly() {
        for (d, terminated) in [(RequestDescriptor.lookup(SmafRequest.create.rawValue)!, true),
                                (RequestDescriptor.legacy.first { $0.name == "v3-v7 CREATE" && $0.size == 80 }!, false)] {
            guard case .create(let c) = d.layout, let nameAt = c.name else { return XCTFail(d.description) }
            let input = [UInt8](repeating: 0x41, count: d.size)
            var output = [UInt8](repeating: 0, count: d.size)
            let n = input.withUnsafeBytes { inp in output.withUnsafeMutableBytes { d.encode(.created(token: -7), echoing: inp, into: $0) } }
            XCTAssertEqual(n, d.size)
            XCTAssertEqual(output.withUnsafeBytes { $0.signedField(c.fd) }, -7, d.description)
            XCTAssertEqual(output[nameAt + 63], terminated ? 0 : 0x41, d.description)
            for i in 0..<d.size where !(c.fd.offset..<(c.fd.offset + c.fd.width)).contains(i) && i != nameAt + 63 {
                XCTAssertEqual(output[i], input[i], "\(d.description): byte \(i) is echoed")
            }
        }
    }

    func testSetSecureFlagCopiesNothingBack() {
        let d = RequestDescriptor.lookup(SmafRequest.setSecureFlag.rawValue)!
        let input = [UInt8](repeating: 1, count: d.size)
        var output = [UInt8](repeating: 0, count: d.size)
        let n = input.withUnsafeBytes { i in output.withUnsafeMutableBytes { d.encode(.nothing, echoing: i, into: $0) } }
        XCTAssertEqual(n, 0)
        XCTAssertEqual(output, [UInt8](repeating: 0, count: d.size))
    }

    func testExtensionsCheckTheirVersionAndDeviceCount() {
        let createFor = SmafExtensionRequest.createFor.rawValue
        XCTAssertEqual(decode(createFor, { $0.setField(0, UInt64(1)) }), .failure(DecodeRefusal(.EINVAL, "version 1 is not 0")))
        XCTAssertEqual(decode(createFor, { $0.setField(SmafExtensionRequest.CreateForField.nDevices, UInt32(17)) }),
                       .failure(DecodeRefusal(.E2BIG, "17 devices named; at most 16 fit")))
        guard case .success(.createFor(_, let devices)) = decode(createFor, {
            $0.setField(SmafExtensionRequest.CreateForField.nDevices, UInt32(2))
            $0.setField(SmafExtensionRequest.CreateForField.deviceFDs, Int32(5))
            $0.setField(SmafExtensionRequest.CreateForField.deviceFDs + 4, Int32(9))
        }) else { return XCTFail("CREATE_FOR did not decode") }
        XCTAssertEqual(devices.all, [5, 9])
    }

    func testLegacyFdThatIsNoFdNumberIsRefused() {
        let s64 = RequestDescriptor.legacy.first { $0.name == "S64 GET_SECURE_FLAG" && $0.size == 72 }!
        XCTAssertEqual(decode(s64.number, { $0.setField(8, Int64(1) << 40) }),
                       .failure(DecodeRefusal(.EINVAL, "fd 1099511627776 is not a file descriptor number")))
    }
}
