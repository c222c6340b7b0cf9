// SPDX-License-Identifier: MIT
import SmafABI
import CSmafABI
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
            ("created_total", S.createdTotal, 8), ("ready_ahead", S.readyAhead, 8), ("reserved", S.reserved, 80),
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

    func testConnectLayoutAndNumber() {
        typealias C = SmafExtensionRequest.ConnectField
        check(SMAF_ABI_EXT_CONNECT, size: SmafExtensionRequest.connect.structSize, [
            ("version", C.version, 8), ("sock", C.sock, 4), ("protocol", C.protocolVersion, 4), ("reserved", C.reserved, 112),
        ])
        XCTAssertEqual(SmafExtensionRequest.connect.rawValue, smaf_abi_ioc_ext_connect())
    }

    /// Every older generation's descriptor in this build's native layout
    /// against smaf_legacy.h as the C compiler reads it: number, size and
    /// the offset and width of every field the layout names. (The ILP32
    /// layouts are the header's static assertions under -m32, and the
    /// 32-bit VM tests.)
    func testNativeLegacyLayoutsMatchSmafLegacyH() {
        let native: [(String, smaf_abi_struct, String)] = [
            ("v2 CREATE", SMAF_ABI_LEGACY_V2_CREATE, "SMAF_LEGACY_IOC_V2_CREATE"),
            ("v2 SELECT_BY_NAME", SMAF_ABI_LEGACY_V2_SELECT, "SMAF_LEGACY_IOC_V2_SELECT_BY_NAME"),
            ("v3-v7 CREATE", SMAF_ABI_LEGACY_V3_CREATE, "SMAF_LEGACY_IOC_V3_CREATE"),
            ("v2-v7 GET_SECURE_FLAG", SMAF_ABI_LEGACY_V2_SECURE, "SMAF_LEGACY_IOC_V2_GET_SECURE_FLAG"),
            ("v2-v7 SET_SECURE_FLAG", SMAF_ABI_LEGACY_V2_SECURE, "SMAF_LEGACY_IOC_V2_SET_SECURE_FLAG"),
            ("v7 GET_INFO", SMAF_ABI_LEGACY_V7_INFO, "SMAF_LEGACY_IOC_V7_GET_INFO"),
            ("S64 CREATE", SMAF_ABI_LEGACY_S64_CREATE, "SMAF_LEGACY_IOC_S64_CREATE"),
            ("S64 GET_SECURE_FLAG", SMAF_ABI_LEGACY_S64_SECURE, "SMAF_LEGACY_IOC_S64_GET_SECURE_FLAG"),
            ("S64 SET_SECURE_FLAG", SMAF_ABI_LEGACY_S64_SECURE, "SMAF_LEGACY_IOC_S64_SET_SECURE_FLAG"),
        ]
        func at(_ s: smaf_abi_struct, _ field: String, _ offset: Int?, width: Int? = nil, _ what: String) {
            guard let offset else { return XCTAssertEqual(smaf_abi_field_size(s, field), 0, "\(what): the C struct has no \(field)") }
            XCTAssertEqual(smaf_abi_field_offset(s, field), offset, "\(what): offsetof \(field)")
            if let width { XCTAssertEqual(smaf_abi_field_size(s, field), width, "\(what): sizeof \(field)") }
        }
        for (name, s, macro) in native {
            let number = smaf_abi_ioc_by_name(macro)
            XCTAssertNotEqual(number, 0, macro)
            guard let d = RequestDescriptor.lookup(number) else { XCTFail("\(macro) 0x\(String(number, radix: 16)) is not in the table"); continue }
            XCTAssertEqual(d.name, name, macro)
            XCTAssertTrue(d.isLegacy, macro)
            XCTAssertEqual(d.size, smaf_abi_struct_size(s), "\(macro): size")
            switch d.layout {
            case .create(let c):
                at(s, "length", c.length.offset, width: c.length.width, macro)
                at(s, "flags", c.flags, width: 4, macro)
                at(s, "name", c.name, width: 64, macro)
                at(s, "fd", c.fd.offset, width: c.fd.width, macro)
                at(s, "version", c.version, width: 8, macro)
            case .getSecureFlag(let l), .setSecureFlag(let l):
                at(s, "fd", l.fd.offset, width: l.fd.width, macro)
                at(s, "secure", l.secure, width: 4, macro)
                at(s, "version", l.version, width: 8, macro)
            case .getInfo(let l):
                at(s, "index", l.index, width: 4, macro)
                at(s, "count", l.count, width: 4, macro)
                at(s, "name", l.name, width: 64, macro)
            case let .selectByName(fd, nameAt):
                at(s, "fd", fd, width: 4, macro)
                at(s, "name", nameAt, width: 64, macro)
            default:
                XCTFail("\(macro): \(d.layout.kind) is no older generation's operation")
            }
        }
    }

    /// Every descriptor of the table: its number encodes its size and the
    /// read-write direction, and no number is there twice.
    func testEveryDescriptorsNumberEncodesItsSize() {
        XCTAssertEqual(Set(RequestDescriptor.all.map(\.number)).count, RequestDescriptor.all.count)
        for (i, d) in RequestDescriptor.all.enumerated() {
            XCTAssertEqual(Int((d.number >> 16) & 0x3FFF), d.size, d.description)
            XCTAssertEqual(d.direction, 3, d.description)
            XCTAssertEqual(UInt8((d.number >> 8) & 0xFF), SmafABI.ioctlMagic, d.description)
            XCTAssertEqual(d.slot, i, d.description)
        }
        XCTAssertEqual(RequestDescriptor.all.filter { !$0.isLegacy && !$0.isExtension }.map(\.number),
                       SmafRequest.allCases.map(\.rawValue))
        XCTAssertEqual(RequestDescriptor.all.filter(\.isExtension).map(\.number), SmafExtensionRequest.allCases.map(\.rawValue))
    }

    /// The legacy table against the numbers docs/generations.md lists, written out.
    func testLegacyRequestTableMatchesTheSpec() {
        let spec: [UInt32: Int] = [
            0xC050_5300: 80, 0xC04C_5300: 76, 0xC010_5300: 16, 0xC00C_5300: 12, 0xC008_5301: 8, 0xC008_5302: 8,
            0xC048_5303: 72, 0xC044_5303: 68, 0xC088_5300: 136, 0xC048_5301: 72, 0xC048_5302: 72,
            0xC084_5300: 132, 0xC044_5301: 68, 0xC044_5302: 68,
        ]
        XCTAssertEqual(RequestDescriptor.legacy.count, spec.count, "one entry per number, none twice")
        for (number, size) in spec {
            XCTAssertNil(SmafRequest(rawValue: number))
            XCTAssertNil(SmafExtensionRequest(rawValue: number))
            XCTAssertEqual(RequestDescriptor.lookup(number)?.size, size, "0x\(String(number, radix: 16))")
            XCTAssertEqual(Int((number >> 16) & 0x3FFF), size, "the number encodes its size")
        }
    }
}
