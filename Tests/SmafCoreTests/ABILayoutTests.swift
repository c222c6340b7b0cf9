// SPDX-License-Identifier: MIT
import CSmafABI
import SmafCore
import SmafTestSupport
import XCTest

/// Swift's codec against the C compiler's reading of smaf.h, field by field.
final class ABILayoutTests: XCTestCase {
    private func check(_ s: smaf_abi_struct, size: Int, _ fields: [(String, Int, Int)], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(smaf_abi_struct_size(s), size, "sizeof", file: file, line: line)
        XCTAssertEqual(smaf_abi_struct_align(s), 8, "alignment", file: file, line: line)
        var end = 0
        for (name, offset, width) in fields {
            XCTAssertEqual(smaf_abi_field_offset(s, name), offset, "offsetof \(name)", file: file, line: line)
            XCTAssertEqual(smaf_abi_field_size(s, name), width, "sizeof \(name)", file: file, line: line)
            XCTAssertEqual(offset, end, "no padding before \(name)", file: file, line: line)
            end = offset + width
        }
        XCTAssertEqual(end, size, "fields cover the struct", file: file, line: line)
    }

    func testCreateDataLayout() {
        typealias F = SmafABI.CreateField
        check(SMAF_ABI_CREATE, size: SmafABI.createSize, [
            ("version", F.version, 8), ("length", F.length, 8), ("flags", F.flags, 4),
            ("reserved1", F.reserved1, 4), ("fd", F.fd, 4), ("reserved2", F.reserved2, 4),
            ("name", F.name, 64), ("reserved3", F.reserved3, 32),
        ])
        XCTAssertEqual(SmafCreateData.wireSize, 128)
    }

    func testSecureFlagLayout() {
        typealias F = SmafABI.SecureFlagField
        check(SMAF_ABI_SECURE_FLAG, size: SmafABI.secureFlagSize, [
            ("version", F.version, 8), ("fd", F.fd, 4), ("reserved1", F.reserved1, 4),
            ("secure", F.secure, 4), ("reserved2", F.reserved2, 44),
        ])
        XCTAssertEqual(SmafSecureFlag.wireSize, 64)
    }

    func testInfoLayout() {
        typealias F = SmafABI.InfoField
        check(SMAF_ABI_INFO, size: SmafABI.infoSize, [
            ("version", F.version, 8), ("index", F.index, 4), ("reserved1", F.reserved1, 4),
            ("count", F.count, 4), ("reserved2", F.reserved2, 4), ("name", F.name, 64),
            ("reserved3", F.reserved3, 40),
        ])
        XCTAssertEqual(SmafInfo.wireSize, 128)
    }

    func testRequestNumbers() {
        XCTAssertEqual(smaf_abi_ioc_create(), 0xC080_5300)
        XCTAssertEqual(smaf_abi_ioc_get_secure_flag(), 0xC040_5301)
        XCTAssertEqual(smaf_abi_ioc_set_secure_flag(), 0xC040_5302)
        XCTAssertEqual(smaf_abi_ioc_get_info(), 0xC080_5303)
        XCTAssertEqual(SmafRequest.create.rawValue, smaf_abi_ioc_create())
        XCTAssertEqual(SmafRequest.getSecureFlag.rawValue, smaf_abi_ioc_get_secure_flag())
        XCTAssertEqual(SmafRequest.setSecureFlag.rawValue, smaf_abi_ioc_set_secure_flag())
        XCTAssertEqual(SmafRequest.getInfo.rawValue, smaf_abi_ioc_get_info())
        for (nr, req) in SmafRequest.allCases.enumerated() {
            XCTAssertEqual(SmafABI.iowr(nr: UInt8(nr), size: req.structSize), req.rawValue)
        }
    }

    func testConstants() {
        XCTAssertEqual(smaf_abi_flag_rdwr(), SmafABI.flagRDWR)
        XCTAssertEqual(smaf_abi_flag_cloexec(), SmafABI.flagCLOEXEC)
        XCTAssertEqual(SmafABI.validCreateFlags, 0x80002)
        XCTAssertEqual(Int(smaf_abi_max_name_length()), SmafABI.maxNameLength)
        XCTAssertEqual(smaf_abi_ioc_magic(), UInt32(SmafABI.ioctlMagic))
    }

    func testExtensionLayouts() {
        typealias H = SmafExtensionRequest.HandoffField
        check(SMAF_ABI_EXT_HANDOFF, size: 128, [
            ("version", H.version, 8), ("protocol", H.protocolVersion, 4), ("reserved1", H.reserved1, 4),
            ("path", H.path, HandoffProtocol.maxPathBytes + 1), ("reserved2", H.reserved2, 4),
        ])
        typealias S = SmafExtensionRequest.StatusField
        check(SMAF_ABI_EXT_STATUS, size: 128, [
            ("version", S.version, 8), ("live_buffers", S.liveBuffers, 8), ("live_bytes", S.liveBytes, 8),
            ("channels", S.channels, 4), ("secure_buffers", S.secureBuffers, 4),
            ("created_total", S.createdTotal, 8), ("reserved", S.reserved, 88),
        ])
        typealias C = SmafExtensionRequest.CreateForField
        check(SMAF_ABI_EXT_CREATE_FOR, size: 256, [
            ("version", C.version, 8), ("create", C.create, 128), ("n_devices", C.nDevices, 4),
            ("reserved1", C.reserved1, 4), ("device_fds", C.deviceFDs, 4 * SmafExtensionRequest.maxDevices),
            ("reserved2", C.reserved2, 48),
        ])
        typealias D = SmafExtensionRequest.DevicesField
        check(SMAF_ABI_EXT_DEVICES, size: 256, [
            ("version", D.version, 8), ("length", D.length, 8), ("n_devices", D.nDevices, 4), ("reserved1", D.reserved1, 4),
            ("device_fds", D.deviceFDs, 4 * SmafExtensionRequest.maxDevices), ("needs", D.needs, 4),
            ("dma_mask_bits", D.dmaMaskBits, 4), ("align", D.align, 8), ("allocators", D.allocators, 8),
            ("sources", D.sources, 4), ("reserved2", D.reserved2, 140),
        ])
        XCTAssertEqual(Int(smaf_abi_ext_max_devices()), SmafExtensionRequest.maxDevices)
        XCTAssertEqual(SmafExtensionRequest.createFor.rawValue, smaf_abi_ioc_ext_create_for())
        XCTAssertEqual(SmafExtensionRequest.devices.rawValue, smaf_abi_ioc_ext_devices())
        XCTAssertEqual(SmafABI.iowr(nr: 0x42, size: 256), smaf_abi_ioc_ext_create_for())
        XCTAssertEqual(smaf_abi_struct_size(SMAF_ABI_HANDOFF_MSG), HandoffProtocol.messageSize)
        XCTAssertEqual(smaf_abi_field_offset(SMAF_ABI_HANDOFF_MSG, "token"), 8)
        XCTAssertEqual(smaf_abi_field_offset(SMAF_ABI_HANDOFF_MSG, "length"), 16)
        XCTAssertEqual(SmafExtensionRequest.handoff.rawValue, smaf_abi_ioc_ext_handoff())
        XCTAssertEqual(SmafExtensionRequest.status.rawValue, smaf_abi_ioc_ext_status())
        XCTAssertEqual(SmafABI.iowr(nr: 0x40, size: 128), smaf_abi_ioc_ext_handoff())
    }

    /// The legacy table against spec §2.2's numbers, written out.
    func testLegacyRequestTableMatchesTheSpec() {
        let spec: [UInt32: Int] = [
            0xC050_5300: 80, 0xC04C_5300: 76, 0xC010_5300: 16, 0xC00C_5300: 12, 0xC008_5301: 8, 0xC008_5302: 8,
            0xC048_5303: 72, 0xC044_5303: 68, 0xC088_5300: 136, 0xC048_5301: 72, 0xC048_5302: 72,
            0xC084_5300: 132, 0xC044_5301: 68, 0xC044_5302: 68,
        ]
        XCTAssertEqual(LegacyRequest.all.count, spec.count, "one entry per number, none twice")
        for (number, size) in spec {
            XCTAssertNil(SmafRequest(rawValue: number))
            XCTAssertNil(SmafExtensionRequest(rawValue: number))
            XCTAssertEqual(LegacyRequest.lookup(number)?.size, size, "0x\(String(number, radix: 16))")
            XCTAssertEqual(Int((number >> 16) & 0x3FFF), size, "the number encodes its size")
        }
    }
}
