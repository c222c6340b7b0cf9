// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// The start-up self-test of kernel mappings: vkms (the virtual KMS driver)
/// imports a probe buffer, composes it through the exporter's kernel mapping
/// and hands the frame back through its writeback connector
/// (Sources/CSmafSys/smaf_vkms.c). Only used when a vkms card exists: it is
/// nobody's display, so a short modeset on it disturbs no one, and smafd
/// never touches a real display this way. The card is closed once the
/// allocators are judged.
public final class VkmsJudge: KernelMappingJudge {
    public let name = "vkms"
    let card: OwnedFD
    /// The probe frame: 256x64 XRGB8888, 64 KiB, 16 pages (a page mapped at
    /// the wrong place shows in 15 of them).
    static let width: UInt32 = 256
    static let height: UInt32 = 64
    public var probePixels: Int { Int(Self.width * Self.height) }

    /// nil if no vkms card can be opened. The card is found by its
    /// platform device (/sys/class/drm/cardN/device is .../vkms), as vgem
    /// is, so no other DRM node is ever opened.
    public init?(sysDirectory: String = "/sys", devDirectory: String = "/dev") {
        guard let path = drmCards(ofDevice: "vkms", sysDirectory: sysDirectory, devDirectory: devDirectory).first else { return nil }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        card = OwnedFD(fd)
    }

    public func check(_ allocator: any Allocator) -> Result<Int, AllocationFailure> {
        let length = UInt64(Self.width * Self.height * 4)
        let fd: OwnedFD
        do throws(AllocationFailure) {
            fd = try allocator.allocate(AllocationRequest(length: length, readWrite: true, recipient: getpid()))
        } catch {
            return .failure(error)
        }
        var why = [CChar](repeating: 0, count: 256)
        let wrong = smaf_vkms_kmap_check(card.raw, fd.raw, Self.width, Self.height, &why, why.count)
        guard wrong >= 0 else {
            return .failure(AllocationFailure(.EINVAL, String(cString: why)))
        }
        return .success(Int(wrong))
    }
}
