// SPDX-License-Identifier: MIT
import SmafABI

/// The devices an extension request names (EXT_CREATE_FOR, EXT_DEVICES):
/// their merged constraints, and EXT_DEVICES' answer.
extension SmafDevice {
    /// EBADF for an fd not open in the caller, ENODEV for one that is not a
    /// character device.
    func resolveDevices(_ fds: DeviceFDs, _ rc: RequestContext) -> Result<DeviceConstraints, SmafErrno> {
        let tid = rc.caller.tid
        var constraints = DeviceConstraints()
        for i in 0..<fds.count {
            let fd = fds[i]
            switch environment.device(ofFD: fd, inThread: tid) {
            case .notOpen:
                return .failure(refuse(.EBADF, rc, "device fd \(fd) is not open in thread \(tid)"))
            case .notCharacterDevice:
                return .failure(refuse(.ENODEV, rc, "device fd \(fd) is not a character device"))
            case .device(let major, let minor):
                let f = deviceFacts.facts(major: major, minor: minor)
                if f.sources & DeviceFactSources.noUdev != 0, !warnedNoUdev.exchange(true, ordering: .relaxed) {
                    logger.warning("""
                        udev has no data for device \(f.device) (\(f.sysfsPath.isEmpty ? "not in sysfs" : f.sysfsPath)): \
                        is systemd-udevd running? Constraints come from sysfs alone (no SMAF_DMA_* properties, \
                        so no device is known to need contiguous memory); said once
                        """)
                }
                logger.debug("device fd \(fd) of tid \(tid): \(f.device) \(f.sysfsPath) contiguous=\(f.contiguous) kernel_mapping=\(f.kernelMapping) dma_mask_bits=\(f.dmaMaskBits.map(String.init) ?? "-") align=\(f.align) iommu=\(f.iommu)")
                constraints.add(f)
            }
        }
        return .success(constraints)
    }

    /// SMAF_IOC_EXT_DEVICES: the devices' merged needs, and which
    /// allocators (bit i: index i) could make `length` bytes for them.
    func answer(length requested: UInt64, _ constraints: DeviceConstraints) -> DevicesAnswer {
        let length = roundedLength(max(requested, 1)) ?? UInt64(Int64.max)
        var a = DevicesAnswer()
        for (i, al) in registry.allocators.prefix(64).enumerated()
        where al.canServe(length: length, readWrite: true) && al.unmetConstraint(constraints, length: length) == nil {
            a.allocators |= 1 << UInt64(i)
        }
        a.needs = constraints.needsBits
        a.dmaMaskBits = UInt32(constraints.dmaMaskBits)
        a.align = constraints.align
        a.sources = constraints.sources
        return a
    }
}
