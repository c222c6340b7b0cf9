// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// `smaf-vgem` and `smaf-drm-<driver>`: a DRM dumb buffer
/// (DRM_IOCTL_MODE_CREATE_DUMB) exported as a dma-buf with PRIME. vgem
/// exists only to make such buffers and is used whenever it is loaded; any
/// other DRM device (on boards, the display controller) only when named
/// with `--drm-device`. vgem commits the whole object at the first mapping.
/// Opening a primary node makes smafd DRM master if nobody is; DrmNode
/// gives that up at once, so a display server can still become master.
public struct DrmDumbAllocator: Allocator {
    public let driver: String
    public let name: String
    public let ranking: Int32
    public let properties: AllocatorProperties
    let node: ExporterNode
    let pageSize: UInt64

    public init(node: ExporterNode, driver: String, pageSize: UInt64 = UInt64(sysconf(Int32(_SC_PAGESIZE))), ranking: Int32? = nil) {
        self.node = node
        self.driver = driver
        self.pageSize = pageSize
        let vgem = driver == "vgem"
        self.name = vgem ? "smaf-vgem" : AllocatorRegistry.validName("smaf-drm-" + driver)
        self.ranking = ranking ?? (vgem ? AllocatorRanking.drmVgem : AllocatorRanking.drmOther)
        // Height is a u32 count of one-page rows.
        let maxSize = min(UInt64(UInt32.max) * pageSize, UInt64(Int64.max))
        self.properties = AllocatorProperties(
            dmabuf: true, contiguous: false, lazy: vgem, maxSize: maxSize, readOnly: true,
            writeSealable: false, lifetime: .lastClose,
            backing: "DRM dumb buffer of \(driver) (\(node.path)), exported with PRIME"
                + (vgem ? " (shmem, pages committed at the first mapping)" : ""))
    }

    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD {
        let fd = smaf_sys_drm_dumb_dmabuf(node.fd, request.length, pageSize, request.readWrite ? 1 : 0)
        guard fd >= 0 else { throw .syscall("dumb buffer on \(node.path)") }
        return OwnedFD(fd)
    }

    /// Opens a DRM node for dumb buffers and drops the DRM master role the
    /// open may have given smafd. nil (with a reason) if it is no DRM node.
    public static func openNode(_ path: String) -> (node: ExporterNode?, driver: String, failure: String?) {
        guard let node = ExporterNode(path: path) else {
            return (nil, "", "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var name = [CChar](repeating: 0, count: 64)
        guard smaf_sys_drm_driver_name(node.fd, &name, name.count) == 0 else {
            return (nil, "", "\(path) is not a DRM node: \(String(cString: strerror(errno)))")
        }
        // EINVAL: we were not master (someone else is, or a render node).
        _ = smaf_sys_drm_drop_master(node.fd)
        return (node, String(cString: name), nil)
    }
}
