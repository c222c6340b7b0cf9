// SPDX-License-Identifier: MIT
/// Where the facts about a device came from (smaf_ext.h SMAF_SOURCE_*).
public enum DeviceFactSources {
    public static let udev: UInt32 = 0x1
    public static let noUdev: UInt32 = 0x2
    public static let dmaMask: UInt32 = 0x4
    public static let iommuGroup: UInt32 = 0x8
    /// udev SMAF_KERNEL_MAPPING was set.
    public static let kernelMappingProperty: UInt32 = 0x10
    /// sysfs shows neither a DMA mask nor an IOMMU group on the device or a
    /// parent: taken for a device without DMA of its own.
    public static let noDMA: UInt32 = 0x20
}
