// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys

#if canImport(Glibc)
import Glibc
#endif

/// Reads what Linux knows about a character device. A protocol so the
/// dispatcher can be tested (and fuzzed) without real devices.
public protocol DeviceFactSource: Sendable {
    func facts(major: UInt32, minor: UInt32) -> DeviceFacts
}

/// The real source: udev properties (through libudev, from udev's
/// database) and sysfs (dma_mask_bits, iommu_group on the device or an
/// ancestor), read afresh each time. smafd asks it through DeviceFactCache,
/// which asks again only when udev's record of the device changed.
public struct SystemDeviceFacts: DeviceFactSource {
    public init() {}

    public func facts(major: UInt32, minor: UInt32) -> DeviceFacts {
        var f = DeviceFacts(device: "c \(major):\(minor)")
        var u = smaf_udev_facts()
        var sysfs = ""
        if smaf_sys_udev_facts(major, minor, &u) == 0, u.found != 0 {
            sysfs = withUnsafeBytes(of: u.syspath) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if u.initialized != 0 {
                f.sources |= DeviceFactSources.udev
                f.contiguous = u.contiguous != 0
                if u.has_mask_bits != 0 { f.dmaMaskBits = Int(u.mask_bits) }
                if u.has_align != 0 { f.align = u.align }
                if u.has_kernel_mapping != 0 {
                    f.kernelMapping = u.kernel_mapping != 0
                    f.sources |= DeviceFactSources.kernelMappingProperty
                }
            } else {
                f.sources |= DeviceFactSources.noUdev
            }
        } else {
            f.sources |= DeviceFactSources.noUdev
            sysfs = realPath("/sys/dev/char/\(major):\(minor)")
        }
        f.sysfsPath = sysfs
        // Up the device tree: the first dma_mask_bits (PCI devices have
        // one), and any iommu_group.
        var dir = sysfs
        while dir.hasPrefix("/sys/devices/") {
            if f.sources & DeviceFactSources.dmaMask == 0,
               let bits = readSmallFile("\(dir)/dma_mask_bits").flatMap({ firstNumber(in: $0) }) {
                f.sources |= DeviceFactSources.dmaMask
                if f.dmaMaskBits == nil { f.dmaMaskBits = Int(bits) }  // a udev property wins
            }
            if !f.iommu, access("\(dir)/iommu_group", F_OK) == 0 {
                f.iommu = true
                f.sources |= DeviceFactSources.iommuGroup
            }
            guard let slash = dir.lastIndex(of: "/") else { break }
            dir = String(dir[..<slash])
        }
        // No DMA mask and no IOMMU anywhere up the tree, and udev says
        // nothing: a device without DMA of its own (vivid, vkms, vgem), which
        // can only touch a buffer through a kernel mapping. (Platform devices
        // with DMA show no mask in sysfs either; for them this costs only
        // the allocators whose kernel mappings are wrong, and a udev rule
        // SMAF_KERNEL_MAPPING=0 undoes it.)
        if f.sources & DeviceFactSources.kernelMappingProperty == 0, sysfs.hasPrefix("/sys/devices/"),
           f.sources & (DeviceFactSources.dmaMask | DeviceFactSources.iommuGroup) == 0, f.dmaMaskBits == nil {
            f.kernelMapping = true
            f.sources |= DeviceFactSources.noDMA
        }
        return f
    }
}
