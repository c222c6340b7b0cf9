// SPDX-License-Identifier: MIT
import SmafABI

/// smafd's quota options (smafd(8)) as QuotaLimits:
///   --user-limit SIZE | UID=SIZE     (repeatable)
///   --cgroup-limit SIZE | PATH=SIZE  (repeatable; PATH as in /proc/<pid>/cgroup)
///   --total-limit SIZE
///   --quota-allocator NAME           (repeatable)
/// SIZE is a ByteSize, 0, or "unlimited". Unset bounds keep their defaults.
extension QuotaLimits {
    public struct OptionError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func parse(userLimits: [String], cgroupLimits: [String], totalLimit: String?,
                             countedAllocators: [String], physicalMemory: UInt64 = Limits.physicalMemory) throws(OptionError) -> QuotaLimits {
        var limits = QuotaLimits.defaults(physicalMemory: physicalMemory)
        for spec in userLimits {
            let (key, size) = try split(spec, "--user-limit", example: "--user-limit 1G or --user-limit 1000=2G")
            if let key {
                guard let uid = UInt32(key) else {
                    throw OptionError(description: "--user-limit '\(spec)': '\(key)' is not a numeric uid")
                }
                limits.users[uid] = size
            } else {
                limits.perUser = size
            }
        }
        for spec in cgroupLimits {
            let (key, size) = try split(spec, "--cgroup-limit", example: "--cgroup-limit 512M or --cgroup-limit /system.slice/app.service=1G")
            if let key {
                guard key.hasPrefix("/") else {
                    throw OptionError(description: "--cgroup-limit '\(spec)': '\(key)' is not a cgroup path; paths start with '/', as in /proc/<pid>/cgroup")
                }
                limits.cgroups[key.count > 1 && key.hasSuffix("/") ? String(key.dropLast()) : key] = size
            } else {
                limits.perCgroup = size
            }
        }
        if let totalLimit { limits.total = try size(totalLimit, "--total-limit") }
        for name in countedAllocators {
            guard !name.isEmpty, name.utf8.count < 64 else {
                throw OptionError(description: "--quota-allocator '\(name)': an allocator name (1-63 bytes) is expected, e.g. smaf-vgem")
            }
            limits.countedAllocators.insert(name)
        }
        return limits
    }

    /// "SIZE" -> (nil, size); "KEY=SIZE" -> (KEY, size).
    private static func split(_ spec: String, _ flag: String, example: String) throws(OptionError) -> (String?, UInt64) {
        guard let eq = spec.lastIndex(of: "=") else { return (nil, try size(spec, flag)) }
        let key = String(spec[..<eq]), value = String(spec[spec.index(after: eq)...])
        guard !key.isEmpty else { throw OptionError(description: "\(flag) '\(spec)': nothing before '='; e.g. \(example)") }
        return (key, try size(value, "\(flag) \(key)="))
    }

    private static func size(_ text: String, _ flag: String) throws(OptionError) -> UInt64 {
        if text.lowercased() == "unlimited" { return .max }
        switch ByteSize.parse(text) {
        case .success(let v): return v
        case .failure(let why): throw OptionError(description: "\(flag) \(why), or unlimited")
        }
    }
}
