// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import SmafCore

#if canImport(Glibc)
import Glibc
#endif

/// smafd's option checks. ArgumentParser runs them (validate()) before run()
/// opens /dev/cuse or any exporter, so a mistyped option is reported as
/// itself (with the valid values, exit status 64) on any kernel, not hidden
/// behind "CUSE is not available". A new option gets one entry in `checks`.
extension Smafd {
    var checks: [() throws -> Void] {
        [
            { _ = try self.limits() },
            { _ = try self.quotaLimits() },
            { _ = try self.generations() },
            { try self.checkDevname() },
            { guard self.maxChannelsPerProcess > 0 else { throw ValidationError("--max-channels-per-process must be at least 1") } },
            { _ = try self.rankOverrides() },
            { _ = try self.aliasPairs() },
            { _ = try self.onlyAllocators() },
            { try self.checkDrmDevices() },
            { _ = try self.kernelMappingOverrides() },
            { _ = try self.user.map { try PrivilegeDrop.resolve($0) } },
        ]
    }

    func validate() throws {
        for check in checks { try check() }
    }

    /// The --max-* options as Limits (sizes accept K/M/G).
    func limits() throws -> Limits {
        func size(_ text: String?, _ flag: String, default d: UInt64) throws -> UInt64 {
            guard let text else { return d }
            switch ByteSize.parsePositive(text) {
            case .success(let v): return v
            case .failure(let why): throw ValidationError("\(flag) \(why)")
            }
        }
        guard maxBuffersPerUser > 0 else { throw ValidationError("--max-buffers-per-user must be at least 1") }
        return Limits(maxBufferSize: try size(maxBufferSize, "--max-buffer-size", default: Limits.defaults.maxBufferSize),
                      maxBuffersPerUser: maxBuffersPerUser,
                      maxBytesPerUser: try size(maxBytesPerUser, "--max-bytes-per-user", default: Limits.defaults.maxBytesPerUser))
    }

    func generations() throws -> AbiGenerations {
        do { return try AbiGenerations(parsing: abiGenerations) } catch { throw ValidationError("--abi-generations: \(error)") }
    }

    func checkDevname() throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !devname.isEmpty, devname.count <= 64, devname.allSatisfy(allowed.contains),
              devname != ".", devname != ".."
        else {
            throw ValidationError("--devname '\(devname)' must be 1-64 characters of letters, digits, '.', '_' or '-'")
        }
    }

    /// The allocator names smafd can offer; which of them work is known only
    /// after probing, but a name outside these can never work.
    static let allocatorNames = "smaf-heap-<heap> (one per /dev/dma_heap entry), smaf-udmabuf, smaf-udmabuf-hugetlb, smaf-vgem, smaf-drm-<driver> (with --drm-device), smaf-memfd, smaf-secretmem"

    static func isAllocatorName(_ name: String) -> Bool {
        ["smaf-udmabuf", "smaf-udmabuf-hugetlb", "smaf-vgem", "smaf-memfd", "smaf-secretmem"].contains(name)
            || (name.hasPrefix("smaf-heap-") && name.count > 10) || (name.hasPrefix("smaf-drm-") && name.count > 9)
    }

    /// --rank NAME=N as a table.
    func rankOverrides() throws -> [String: Int32] {
        var overrides: [String: Int32] = [:]
        for spec in ranks {
            let parts = spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let n = Int32(parts[1]) else {
                throw ValidationError("--rank '\(spec)': expected NAME=N with N an integer from \(Int32.min) to \(Int32.max), e.g. --rank smaf-memfd=10")
            }
            guard Self.isAllocatorName(parts[0]) else {
                throw ValidationError("--rank '\(spec)': '\(parts[0])' is not an allocator name; allocators are \(Self.allocatorNames)")
            }
            overrides[parts[0]] = n
        }
        return overrides
    }

    /// --alias OLD=NEW pairs; whether NEW works is known after probing.
    func aliasPairs() throws -> [(old: String, new: String)] {
        try aliases.map { spec in
            let parts = spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--alias '\(spec)': expected OLD=NEW, e.g. --alias smaf-cma=smaf-memfd")
            }
            guard parts[0].utf8.count < 64 else {
                throw ValidationError("--alias '\(spec)': OLD must be shorter than 64 bytes (GET_INFO's name field)")
            }
            guard Self.isAllocatorName(parts[1]) else {
                throw ValidationError("--alias '\(spec)': '\(parts[1])' is not an allocator name; allocators are \(Self.allocatorNames)")
            }
            return (parts[0], parts[1])
        }
    }

    /// --allocators as a set (nil: all).
    func onlyAllocators() throws -> Set<String>? {
        guard let allocators else { return nil }
        let names = allocators.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for name in names where !Self.isAllocatorName(name) {
            throw ValidationError("--allocators: '\(name)' is not an allocator name; allocators are \(Self.allocatorNames)")
        }
        return Set(names)
    }

    /// --kernel-mappings NAME=correct|wrong as a table.
    func kernelMappingOverrides() throws -> [String: KernelMappings.Verdict] {
        let table: [String: KernelMappings.Verdict]
        do { table = try KernelMappings.parseOverrides(kernelMappings) } catch { throw ValidationError(error.description) }
        for name in table.keys.sorted() where !Self.isAllocatorName(name) {
            throw ValidationError("--kernel-mappings: '\(name)' is not an allocator name; allocators are \(Self.allocatorNames)")
        }
        return table
    }

    /// A --drm-device that is not there would otherwise be skipped silently.
    func checkDrmDevices() throws {
        for path in drmDevices {
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw ValidationError("--drm-device \(path): \(String(cString: strerror(errno))); give a DRM primary node such as /dev/dri/card0")
            }
            guard st.st_mode & S_IFMT == S_IFCHR else {
                throw ValidationError("--drm-device \(path): not a character device; give a DRM primary node such as /dev/dri/card0")
            }
        }
    }
}
