// SPDX-License-Identifier: MIT
import SmafABI
/// What one device that will use a buffer needs, as Linux knows it.
public struct DeviceFacts: Sendable, Equatable {
    /// "c MAJOR:MINOR".
    public var device: String
    /// Its sysfs directory ("" if sysfs does not know it).
    public var sysfsPath: String = ""
    /// udev SMAF_DMA_CONTIGUOUS=1: only physically contiguous memory will do.
    public var contiguous = false
    /// Addressable bits: udev SMAF_DMA_MASK_BITS, else sysfs dma_mask_bits.
    public var dmaMaskBits: Int?
    /// udev SMAF_DMA_ALIGN: the buffer's alignment, in bytes.
    public var align: UInt64 = 0
    /// sysfs iommu_group: the device translates its addresses, so scattered
    /// pages anywhere in memory will do (unless udev says otherwise).
    public var iommu = false
    /// It reads or writes buffers through kernel mappings (dma_buf_vmap), as
    /// devices without DMA of their own do (vivid, vkms): udev
    /// SMAF_KERNEL_MAPPING, else no DMA mask and no IOMMU group in sysfs on
    /// the device or any parent.
    public var kernelMapping = false
    /// SMAF_SOURCE_* bits: where these facts came from.
    public var sources: UInt32 = 0

    public init(device: String) { self.device = device }
}

/// The constraints of every device that will use a buffer, merged: the
/// union of their needs, so what satisfies them is the intersection of what
/// satisfies each.
public struct DeviceConstraints: Sendable, Equatable {
    public var devices = 0
    public var contiguous = false
    /// 64: no limit.
    public var dmaMaskBits = 64
    public var align: UInt64 = 0
    /// Some device reads or writes buffers through kernel mappings.
    public var kernelMapping = false
    public var sources: UInt32 = 0

    public init() {}

    public init(_ facts: [DeviceFacts]) {
        for f in facts { add(f) }
    }

    public mutating func add(_ f: DeviceFacts) {
        devices += 1
        contiguous = contiguous || f.contiguous
        // Behind an IOMMU the device sees I/O virtual addresses: the CPU's
        // physical addresses do not limit it.
        if !f.iommu, let bits = f.dmaMaskBits { dmaMaskBits = min(dmaMaskBits, bits) }
        align = max(align, f.align)
        kernelMapping = kernelMapping || f.kernelMapping
        sources |= f.sources
    }

    /// Any device at all needs a real dma-buf: no device imports a memfd.
    public var needsDMABuf: Bool { devices > 0 }

    /// smaf_ext.h SMAF_NEEDS_* bits.
    public var needsBits: UInt32 { (needsDMABuf ? 0x1 : 0) | (contiguous ? 0x2 : 0) | (kernelMapping ? 0x4 : 0) }

    /// Contiguous memory and correct kernel mappings, when both are needed:
    /// on some kernels no allocator gives both, which a refusal says.
    public var combinedNeeds: [String] {
        (contiguous ? ["physically contiguous memory"] : []) + (kernelMapping ? ["correct kernel mappings"] : [])
    }

    /// Whether `p` gives every need of combinedNeeds, whatever the size.
    public func givesCombinedNeeds(_ p: AllocatorProperties) -> Bool {
        p.dmabuf && (!contiguous || p.contiguous) && (!kernelMapping || !p.kernelMappings.isWrong)
    }
}

extension Allocator {
    /// nil if this allocator's buffers of `length` bytes meet `constraints`
    /// (the driver's match(), answered from the declared properties);
    /// otherwise the first constraint they do not meet, for the log.
    public func unmetConstraint(_ c: DeviceConstraints, length: UInt64) -> String? {
        guard c.devices > 0 else { return nil }
        let p = properties
        if !p.dmabuf { return "a device can only import a dma-buf (\(name) is CPU-only)" }
        if c.contiguous && !p.contiguous { return "physically contiguous memory (\(name) is scatter-gather)" }
        if c.kernelMapping && p.kernelMappings.isWrong {
            return "correct kernel mappings, which a device that uses buffers through the kernel needs (\(name)'s are wrong: \(p.kernelMappings.source))"
        }
        if length > p.maxSize { return "a buffer of \(length) bytes (\(name) makes at most \(p.maxSize))" }
        if c.dmaMaskBits < p.addressBits {
            return "memory below 2^\(c.dmaMaskBits) (\(name)'s pages may lie anywhere below 2^\(p.addressBits))"
        }
        if c.align > p.alignment { return "\(c.align)-byte alignment (\(name) aligns to \(p.alignment))" }
        return nil
    }
}
