// SPDX-License-Identifier: MIT
import SmafABI
import CFuseKernel
import Foundation
import SmafCUSE
import SmafCore
import SmafTestSupport
import XCTest

/// The real libfuse CUSE session, driven over a socketpair by a test that
/// plays the kernel: every ioctl and error path as a /dev/smaf caller sees it.
final class CUSESessionTests: XCTestCase {
    private func withHarness(devname: String = "smaf", secure: SecurePolicy = .testsecure,
                             allocators: [any Allocator] = [MemfdAllocator()],
                             _ body: (CUSEHarness, UInt64) throws -> Void) throws {
        let h = try CUSEHarness(devname: devname, secure: secure, allocators: allocators)
        let (out, info) = h.kernel.cuseInit()
        XCTAssertEqual(out.major, 7)
        XCTAssertTrue(info.contains("DEVNAME=\(devname)"), "device info \(info)")
        let (err, fh) = h.kernel.open()
        XCTAssertEqual(err, 0)
        try body(h, fh)
        XCTAssertEqual(h.kernel.release(fh: fh), 0)
        XCTAssertEqual(h.stop(), 0, "the loop ends cleanly when the kernel side goes away")
    }

    func testInitAnnouncesTheDeviceInRestrictedModeAndReportsReadyOnce() throws {
        for name in ["smaf", "smaf-test0"] {
            let h = try CUSEHarness(devname: name)
            XCTAssertEqual(h.readiness.value, 0)
            let (out, info) = h.kernel.cuseInit()
            XCTAssertEqual(out.major, 7)
            XCTAssertEqual(info, ["DEVNAME=\(name)"])
            XCTAssertEqual(out.flags & 1, 0, "CUSE_UNRESTRICTED_IOCTL must not be requested")
            XCTAssertEqual(out.dev_major, 0, "dynamic major")
            // init_done runs just after libfuse has sent the reply.
            for _ in 0..<200 where h.readiness.value == 0 { usleep(10_000) }
            XCTAssertEqual(h.readiness.value, 1)
            XCTAssertEqual(h.stop(), 0)
        }
    }

    func testGetInfoEnumeratesAllocators() throws {
        try withHarness(allocators: [MemfdAllocator(), AllocatorAlias(name: "smaf-cma", target: MemfdAllocator())]) { h, fh in
            var names: [String] = []
            for index: UInt32 in 0..<2 {
                var i = SmafInfo()
                i.index = index
                i.reserved1 = 0x0102_0304
                i.reserved3[39] = 0x99
                let r = h.kernel.smafIoctl(fh: fh, .getInfo, i)
                XCTAssertEqual(r.errno, 0)
                let o = try XCTUnwrap(r.out)
                XCTAssertEqual(o.count, 2)
                XCTAssertEqual(o.reserved1, 0x0102_0304)
                XCTAssertEqual(o.reserved3[39], 0x99)
                names.append(o.name.string)
            }
            XCTAssertEqual(names, ["smaf-cma", "smaf-memfd"])
            var past = SmafInfo()
            past.index = 2
            let r = h.kernel.ioctl(fh: fh, cmd: SmafRequest.getInfo.rawValue, input: past.encoded)
            XCTAssertEqual(r.errno, EINVAL)
            XCTAssertEqual(r.out, [], "nothing is copied back on error")
        }
    }

    func testVersionUnknownAndLegacyRequests() throws {
        try withHarness { h, fh in
            var c = createData(); c.version = 1
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, c).errno, EINVAL)
            var s = SmafSecureFlag(); s.version = 1; s.fd = 0
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .getSecureFlag, s).errno, EINVAL)
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .setSecureFlag, s).errno, EINVAL)
            var i = SmafInfo(); i.version = 1
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .getInfo, i).errno, EINVAL)
            // Legacy and unknown numbers, with the sizes the kernel derives from them.
            for (cmd, size) in [(UInt32(0xC050_5300), 80), (0xC04C_5300, 76), (0xC010_5300, 16), (0xC008_5301, 8),
                                (0xC008_5302, 8), (0xC048_5303, 72), (0xC044_5303, 68), (0xC088_5300, 136),
                                (0xC048_5301, 72), (0xC080_5304, 128), (0x5305, 0), (0x8004_5300, 0)] {
                let inSize = (cmd >> 30) & 1 == 1 ? size : 0
                let outSize = (cmd >> 31) == 1 ? size : 0
                let r = h.kernel.ioctl(fh: fh, cmd: cmd, input: [UInt8](repeating: 0, count: inSize), outSize: outSize)
                XCTAssertEqual(r.errno, EINVAL, String(cmd, radix: 16))
            }
            // A v10 number with the wrong sizes (not something a kernel sends) is refused, not trusted.
            XCTAssertEqual(h.kernel.ioctl(fh: fh, cmd: SmafRequest.getInfo.rawValue, input: [UInt8](repeating: 0, count: 64)).errno, EINVAL)
            XCTAssertEqual(h.kernel.ioctl(fh: fh, cmd: SmafRequest.getInfo.rawValue, input: SmafInfo().encoded, outSize: 16).errno, EINVAL)
        }
    }

    func testCreateChecksThenENOTCONNWithoutHandoffChannel() throws {
        try withHarness { h, fh in
            for flags: UInt32 in [1, 0x40, 0x80003, 0xFFFF_FFFF] {
                XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, createData(flags: flags)).errno, EINVAL, "flags \(flags)")
            }
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, createData(length: 0)).errno, EINVAL)
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, createData(length: .max)).errno, EINVAL)
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, createData(name: "deadbeef")).errno, EINVAL)
            for flags: UInt32 in [0, 2, 0x80000, 0x80002] {
                let r = h.kernel.ioctl(fh: fh, cmd: SmafRequest.create.rawValue, input: createData(flags: flags).encoded)
                XCTAssertEqual(r.errno, ENOTCONN, "a well-formed CREATE without a channel")
                XCTAssertEqual(r.out, [], "no fake fd is ever written back")
            }
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, createData(name: "smaf-memfd")).errno, ENOTCONN)
        }
        // name[63] is forced to NUL before the lookup: 63 valid bytes + a stray 64th match.
        let long = String(repeating: "m", count: 63)
        try withHarness(allocators: [MemfdAllocator(), NamedAllocator(name: long, ranking: 0)]) { h, fh in
            var c = createData(name: long)
            c.name[63] = 0x58  // 'X' in the terminator's place
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, c).errno, ENOTCONN)
            var d = createData(name: String(long.dropLast()) + "X")
            d.name[63] = 0x58
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .create, d).errno, EINVAL)
        }
    }

    func testTheLargestStructsCrossTheSessionWhole() throws {
        // SMAF_IOC_EXT_DEVICES is 256 bytes each way: the adapter's reply
        // buffer must hold it (a 128-byte one made every such request EINVAL).
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(null) }
        try withHarness { h, fh in
            typealias F = SmafExtensionRequest.DevicesField
            var input = [UInt8](repeating: 0, count: SmafExtensionRequest.devices.structSize)
            input.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: UInt32(1), toByteOffset: F.nDevices, as: UInt32.self)
                raw.storeBytes(of: null, toByteOffset: F.deviceFDs, as: Int32.self)
                raw.storeBytes(of: UInt8(0x5A), toByteOffset: 255, as: UInt8.self)
            }
            XCTAssertEqual(SmafExtensionRequest.largestStructSize, input.count)
            let r = h.kernel.ioctl(fh: fh, cmd: SmafExtensionRequest.devices.rawValue, input: input)
            XCTAssertEqual(r.errno, 0)
            XCTAssertEqual(r.out.count, 256)
            XCTAssertEqual(r.out.last, 0x5A, "the last byte comes back as sent")
            XCTAssertEqual(r.out.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: F.needs, as: UInt32.self) } & 1, 1,
                           "/dev/null is a device: it needs a dma-buf")
            input.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(17), toByteOffset: F.nDevices, as: UInt32.self) }
            XCTAssertEqual(h.kernel.ioctl(fh: fh, cmd: SmafExtensionRequest.devices.rawValue, input: input).errno, E2BIG)
        }
    }

    func testSecureFlagRequestsResolveTheCallersRealFds() throws {
        var pipeFDs: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&pipeFDs), 0)
        defer { close(pipeFDs[0]); close(pipeFDs[1]) }
        // A number far above anything in use, so nothing reuses it meanwhile.
        let closedFD = fcntl(pipeFDs[0], F_DUPFD_CLOEXEC, 900)
        close(closedFD)
        try withHarness { h, fh in
            var s = SmafSecureFlag()
            s.fd = pipeFDs[0]
            s.secure = 77
            s.reserved1 = 0xCAFE
            let r = h.kernel.smafIoctl(fh: fh, .getSecureFlag, s)
            XCTAssertEqual(r.errno, 0, "an open fd that is not a buffer reads as not secure")
            XCTAssertEqual(r.out?.secure, 0)
            XCTAssertEqual(r.out?.reserved1, 0xCAFE)
            XCTAssertEqual(r.out?.fd, pipeFDs[0])
            for fd: Int32 in [closedFD, -1, 1 << 30] {
                s.fd = fd
                XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .getSecureFlag, s).errno, EINVAL, "GET fd \(fd)")
                XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .setSecureFlag, s).errno, EINVAL, "SET fd \(fd)")
            }
            s.fd = pipeFDs[0]
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .setSecureFlag, s).errno, EINVAL, "SET on a non-buffer")
            // A caller whose thread does not exist cannot have open fds.
            var origin = FakeKernel.Origin()
            origin.pid = 0x7FFF_FFF0
            XCTAssertEqual(h.kernel.ioctl(fh: fh, cmd: SmafRequest.getSecureFlag.rawValue, input: s.encoded, origin: origin).errno, EINVAL)
        }
        try withHarness(secure: .none) { h, fh in
            var s = SmafSecureFlag()
            s.fd = pipeFDs[0]
            s.secure = 1
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .setSecureFlag, s).errno, EINVAL)
            s.version = 5
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .setSecureFlag, s).errno, EINVAL)
            s.version = 0
            XCTAssertEqual(h.kernel.smafIoctl(fh: fh, .getSecureFlag, s).out?.secure, 0)
        }
    }

    func testReadWriteAndUnrestrictedIoctlsAreRefused() throws {
        try withHarness { h, fh in
            XCTAssertEqual(h.kernel.read(fh: fh), EINVAL)
            XCTAssertEqual(h.kernel.write(fh: fh, data: [1, 2, 3]), EINVAL)
            let r = h.kernel.ioctl(fh: fh, cmd: SmafRequest.getInfo.rawValue, input: SmafInfo().encoded,
                                   flags: UInt32(FUSE_IOCTL_UNRESTRICTED))
            XCTAssertEqual(r.errno, EINVAL)
        }
    }

    func testManyOutstandingRequestsAreAllAnswered() throws {
        try withHarness { h, fh in
            var uniques = Set<UInt64>()
            for i in 0..<64 {
                var info = SmafInfo()
                info.index = UInt32(i % 2)  // half succeed, half EINVAL
                uniques.insert(h.kernel.send(opcode: UInt32(FUSE_IOCTL.rawValue),
                                             body: h.kernel.ioctlBody(fh: fh, cmd: SmafRequest.getInfo.rawValue,
                                                                      input: info.encoded, outSize: 128)))
            }
            var ok = 0, einval = 0
            for _ in 0..<64 {
                let r = try XCTUnwrap(h.kernel.receive())
                XCTAssertNotNil(uniques.remove(r.unique))
                let d = h.kernel.decodeIoctlReply(r)
                if d.errno == 0 { ok += 1; XCTAssertEqual(SmafInfo(decoding: d.out)?.name.string, "smaf-memfd") }
                if d.errno == EINVAL { einval += 1 }
            }
            XCTAssertEqual(ok, 32)
            XCTAssertEqual(einval, 32)
            XCTAssertTrue(uniques.isEmpty)
        }
    }
}

