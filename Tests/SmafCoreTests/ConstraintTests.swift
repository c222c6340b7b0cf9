// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import SmafCore
import SmafTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Facts scripted by device number: minors in `contiguous` need contiguous memory.
struct ScriptedDeviceFacts: DeviceFactSource {
    var contiguous: Set<UInt32> = []
    func facts(major: UInt32, minor: UInt32) -> DeviceFacts {
        var f = DeviceFacts(device: "c \(major):\(minor)")
        f.contiguous = contiguous.contains(minor)
        f.sources = DeviceFactSources.udev
        return f
    }
}

/// SMAF_IOC_EXT_CREATE_FOR and SMAF_IOC_EXT_DEVICES in one process: the
/// caller's device fds are real character devices (/dev/null is 1:3,
/// /dev/zero 1:5), resolved through /proc as smafd does.
extension HandoffTests {
    func createFor(_ d: SmafDevice, fds: [Int32], count: UInt32? = nil, length: UInt64 = 16384,
                   name: String = "") -> Result<Int32, SmafErrno> {
        typealias F = SmafExtensionRequest.CreateForField
        var input = [UInt8](repeating: 0, count: 256)
        let create = createData(length: length, name: name).encoded
        input.replaceSubrange(F.create..<(F.create + 128), with: create)
        input.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: count ?? UInt32(fds.count), toByteOffset: F.nDevices, as: UInt32.self)
            for (i, fd) in fds.enumerated() where i < 16 { raw.storeBytes(of: fd, toByteOffset: F.deviceFDs + 4 * i, as: Int32.self) }
        }
        return d.ioctl(request: SmafExtensionRequest.createFor.rawValue, input: input, caller: me)
            .map { out in SmafCreateData(decoding: Array(out[F.create..<(F.create + 128)]))!.fd }
    }

    func testCreateForTakesTheFirstAllocatorThatMeetsEveryDevice() throws {
        let sock = try connectChannel()
        defer { close(sock) }
        let d = try device(allocators: [MemfdAllocator(), NamedAllocator.dmabuf("sg", ranking: 10),
                                        NamedAllocator.dmabuf("contig", ranking: 5, contiguous: true, maxSize: 1 << 20)],
                           deviceFacts: ScriptedDeviceFacts(contiguous: [3]))
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC), zero = open("/dev/zero", SMAF_O_PATH | O_CLOEXEC)
        defer { close(null); close(zero) }
        let cases: [([Int32], String)] = [([], "sg"), ([zero], "sg"), ([null], "contig"), ([zero, null], "contig")]
        for (fds, expected) in cases {
            let token = try createFor(d, fds: fds).get()
            XCTAssertLessThanOrEqual(token, -2)
            let (got, fd, _) = try receive(sock)
            XCTAssertEqual(got, token)
            XCTAssertEqual(allocator(of: fd, d), expected, "devices \(fds)")
            close(fd)
        }
        XCTAssertEqual(createFor(d, fds: [null], length: 2 << 20).failureErrno, .EINVAL, "2 MiB: beyond the contiguous allocator")
        XCTAssertTrue(logs.contains("no allocator meets the devices' constraints"))
        XCTAssertTrue(logs.contains("sg cannot give physically contiguous memory"))
        // Named: that allocator whatever the devices need (v10 rule).
        XCTAssertNotNil(createFor(d, fds: [null], name: "sg").successValue)
        let (_, named, _) = try receive(sock)
        XCTAssertEqual(allocator(of: named, d), "sg")
        close(named)
    }

    func testCreateForRefusesBadDevicesWithTheirOwnErrno() throws {
        let sock = try connectChannel()
        defer { close(sock) }
        let d = try device(allocators: [MemfdAllocator(), NamedAllocator.dmabuf("sg", ranking: 10)])
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC), file = smaf_sys_memfd("not-a-device")
        defer { close(null); close(file) }
        XCTAssertEqual(createFor(d, fds: [null], count: 17).failureErrno, .E2BIG)
        XCTAssertEqual(createFor(d, fds: [null], count: UInt32.max).failureErrno, .E2BIG)
        XCTAssertEqual(createFor(d, fds: [9999]).failureErrno, .EBADF)
        XCTAssertEqual(createFor(d, fds: [-1]).failureErrno, .EBADF)
        XCTAssertEqual(createFor(d, fds: [null, file]).failureErrno, .ENODEV)
        XCTAssertTrue(logs.contains("device fd \(file) is not a character device"))
        XCTAssertEqual(status(d).buffers, 0, "no buffer was made")
        // The same devices through SMAF_IOC_EXT_DEVICES.
        XCTAssertEqual(devices(d, fds: [9999]).failureErrno, .EBADF)
        let answer = try devices(d, fds: [null]).get()
        XCTAssertEqual(answer.needs, 0x5, "a device needs a dma-buf; /dev/null (no DMA mask, no IOMMU) correct kernel mappings too")
        XCTAssertEqual(answer.mask, 0b01, "sg (index 0) serves it, smaf-memfd (index 1) cannot")
        XCTAssertEqual(try devices(d, fds: []).get().mask, 0b11, "no device: both")
    }

    func devices(_ d: SmafDevice, fds: [Int32], length: UInt64 = 4096) -> Result<(needs: UInt32, mask: UInt64), SmafErrno> {
        typealias F = SmafExtensionRequest.DevicesField
        var input = [UInt8](repeating: 0, count: 256)
        input.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length, toByteOffset: F.length, as: UInt64.self)
            raw.storeBytes(of: UInt32(fds.count), toByteOffset: F.nDevices, as: UInt32.self)
            for (i, fd) in fds.enumerated() { raw.storeBytes(of: fd, toByteOffset: F.deviceFDs + 4 * i, as: Int32.self) }
        }
        return d.ioctl(request: SmafExtensionRequest.devices.rawValue, input: input, caller: me).map { out in
            (load(out, F.needs), load(out, F.allocators))
        }
    }
}

final class DeviceFactTests: XCTestCase {
    func testSysfsFactsOfARealCharacterDevice() {
        let f = SystemDeviceFacts().facts(major: 1, minor: 3)  // /dev/null
        XCTAssertEqual(f.device, "c 1:3")
        XCTAssertTrue(f.sysfsPath.hasSuffix("/mem/null"), f.sysfsPath)
        XCTAssertFalse(f.contiguous)
        XCTAssertFalse(f.iommu)
        XCTAssertNil(f.dmaMaskBits, "a virtual device has no DMA mask")
        let none = SystemDeviceFacts().facts(major: 4000, minor: 4000)
        XCTAssertEqual(none.sysfsPath, "")
        XCTAssertNotEqual(none.sources & DeviceFactSources.noUdev, 0)
    }

    func testMergingTakesTheUnionOfNeeds() {
        var a = DeviceFacts(device: "a"), b = DeviceFacts(device: "b"), c = DeviceFacts(device: "c")
        a.contiguous = true
        a.dmaMaskBits = 40
        b.dmaMaskBits = 32
        b.align = 65536
        c.dmaMaskBits = 24
        c.iommu = true
        let m = DeviceConstraints([a, b, c])
        XCTAssertEqual(m.devices, 3)
        XCTAssertTrue(m.contiguous)
        XCTAssertEqual(m.dmaMaskBits, 32, "c translates through its IOMMU")
        XCTAssertEqual(m.align, 65536)
        XCTAssertEqual(m.needsBits, 0x3)
        XCTAssertEqual(DeviceConstraints().needsBits, 0)
    }

    func testTopOfRAMFromIomem() {
        let text = """
            00000000-00000fff : Reserved
            00001000-0009fbff : System RAM
            00100000-7ffdffff : System RAM
              01000000-01ffffff : Kernel code
            100000000-17fffffff : System RAM
            """
        XCTAssertEqual(SystemMemory.topOfRAM(iomem: text), 0x17fff_ffff)
        XCTAssertNil(SystemMemory.topOfRAM(iomem: "00000000-00000000 : System RAM\n"), "hidden addresses")
        XCTAssertGreaterThanOrEqual(SystemMemory.addressBits, 20)
    }
}
