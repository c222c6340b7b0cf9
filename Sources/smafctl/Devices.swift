// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import Foundation
import SmafClient


struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What devices need from a buffer (udev properties, sysfs) and which allocators meet it, each and all together.")

    @OptionGroup var options: CommonOptions

    @Option(parsing: .unconditional, help: "Buffer size to match for: bytes or with K/M/G (default: one page).")
    var size: String?

    @Argument(help: "Device nodes, e.g. /dev/video0 /dev/dri/card0.")
    var paths: [String]

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one device") }
        _ = try size.map(sizeOption)
    }

    func run() throws {
        let length = try size.map(sizeOption) ?? 0
        let handle = try options.open()
        let names = try wrap { try handle.allocators() }
        let fds = try openDevices(paths)
        defer { fds.forEach { close($0) } }
        var rows: [[String: Any]] = []
        for (path, fd) in zip(paths, fds) {
            rows.append(try describe(handle, [fd], names, length).merging(["device": path]) { $1 })
        }
        if paths.count > 1 {
            rows.append(try describe(handle, fds, names, length).merging(["device": "all together"]) { $1 })
        }
        if options.json { return printJSON(rows) }
        var table = TextTable(["device", "contiguous", "kernel mapping", "dma mask", "align", "iommu", "facts from", "allocators that meet it"])
        for r in rows {
            table.add([r["device"] as! String, r["contiguous"] as! Bool ? "yes" : "no", r["kernel_mapping"] as! Bool ? "yes" : "no",
                       "\(r["dma_mask_bits"] as! Int) bits",
                       "\(r["align"] as! UInt64)", r["iommu"] as! Bool ? "yes" : "no", (r["sources"] as! [String]).joined(separator: ", "),
                       (r["allocators"] as! [String]).joined(separator: ", ").ifEmpty("none (CREATE for it: EINVAL)")])
        }
        print(table.render())
    }

    /// SMAF_IOC_EXT_DEVICES for these fds.
    private func describe(_ handle: SmafDeviceHandle, _ fds: [Int32], _ names: [String], _ length: UInt64) throws -> [String: Any] {
        typealias F = SmafExtensionRequest.DevicesField
        var bytes = [UInt8](repeating: 0, count: SmafExtensionRequest.devices.structSize)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length, toByteOffset: F.length, as: UInt64.self)
            raw.storeBytes(of: UInt32(fds.count), toByteOffset: F.nDevices, as: UInt32.self)
            for (i, fd) in fds.prefix(SmafExtensionRequest.maxDevices).enumerated() {
                raw.storeBytes(of: fd, toByteOffset: F.deviceFDs + 4 * i, as: Int32.self)
            }
        }
        let e = handle.raw(SmafExtensionRequest.devices.rawValue, &bytes)
        guard e == 0 else { throw Failure("SMAF_IOC_EXT_DEVICES: \(String(cString: strerror(e)))\(e == EINVAL ? " (\(handle.path) is not served by a smafd that knows devices)" : "")") }
        func field<T>(_ off: Int, _: T.Type) -> T { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off, as: T.self) } }
        let needs = field(F.needs, UInt32.self), sources = field(F.sources, UInt32.self), mask = field(F.allocators, UInt64.self)
        let sourceNames = [(DeviceFactSources.udev, "udev"), (DeviceFactSources.noUdev, "sysfs only (no udev data)"),
                           (DeviceFactSources.dmaMask, "sysfs dma_mask_bits"), (DeviceFactSources.iommuGroup, "sysfs iommu_group"),
                           (DeviceFactSources.kernelMappingProperty, "udev SMAF_KERNEL_MAPPING"),
                           (DeviceFactSources.noDMA, "sysfs: no DMA mask nor IOMMU (kernel mapping)")]
        return [
            "dmabuf": needs & 0x1 != 0, "contiguous": needs & 0x2 != 0, "kernel_mapping": needs & 0x4 != 0,
            "dma_mask_bits": Int(field(F.dmaMaskBits, UInt32.self)), "align": field(F.align, UInt64.self),
            "iommu": sources & DeviceFactSources.iommuGroup != 0,
            "sources": sourceNames.filter { sources & $0.0 != 0 }.map(\.1),
            "allocators": names.enumerated().filter { $0.offset < 64 && mask & (1 << UInt64($0.offset)) != 0 }.map(\.element),
        ]
    }
}

extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
