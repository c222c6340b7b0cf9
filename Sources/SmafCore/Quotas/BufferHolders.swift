// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif

/// Which processes hold smafd's buffers open (an fd in /proc/<pid>/fd) or
/// mapped (a line of /proc/<pid>/maps), found by file identity. smafd holds
/// no reference to a buffer after the handoff, so this is how it can tell
/// whether one is still in use. An importing device's own reference (a
/// V4L2 queue, a GEM handle) shows in neither. Reading other users'
/// processes needs root or CAP_SYS_PTRACE, which smafd keeps.
public enum BufferHolders {
    public struct Holders: Sendable, Equatable {
        public var openIn: Set<Int32> = []
        public var mappedIn: Set<Int32> = []
        public init() {}
    }

    /// One pass over /proc for `wanted`; `onlyUID`: only processes of that user.
    public static func scan(_ wanted: Set<FileIdentity>, onlyUID: UInt32?, procRoot: String = "/proc") -> [FileIdentity: Holders] {
        var found: [FileIdentity: Holders] = [:]
        guard !wanted.isEmpty, let dir = opendir(procRoot) else { return found }
        defer { closedir(dir) }
        // maps shows "major:minor inode" in hex; compare in that form.
        let byMapsKey = Dictionary(wanted.map { (mapsKey($0), $0) }, uniquingKeysWith: { a, _ in a })
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid > 0 else { continue }
            if let onlyUID {
                var st = stat()
                guard stat("\(procRoot)/\(pid)", &st) == 0, st.st_uid == onlyUID else { continue }
            }
            for id in openFiles(pid, procRoot) where wanted.contains(id) { found[id, default: Holders()].openIn.insert(pid) }
            guard let maps = readSmallFile("\(procRoot)/\(pid)/maps", limit: 1 << 20) else { continue }
            for line in maps.split(separator: "\n") {
                // address perms offset dev inode path
                let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard f.count >= 5, f[4] != "0", let id = byMapsKey[MapsKey(dev: String(f[3]), inode: String(f[4]))] else { continue }
                found[id, default: Holders()].mappedIn.insert(pid)
            }
        }
        return found
    }

    struct MapsKey: Hashable {
        let dev: String
        let inode: String
    }

    /// How /proc/<pid>/maps prints a file identity (MAJOR:MINOR in hex, inode in decimal).
    static func mapsKey(_ id: FileIdentity) -> MapsKey {
        let d = id.device
        let major = ((d >> 8) & 0xfff) | ((d >> 32) & ~UInt64(0xfff))
        let minor = (d & 0xff) | ((d >> 12) & ~UInt64(0xff))
        func hex2(_ v: UInt64) -> String { let s = String(v, radix: 16); return s.count < 2 ? "0" + s : s }
        return MapsKey(dev: "\(hex2(major)):\(hex2(minor))", inode: String(id.inode))
    }

    private static func openFiles(_ pid: Int32, _ procRoot: String) -> [FileIdentity] {
        let path = "\(procRoot)/\(pid)/fd"
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var ids: [FileIdentity] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int32(name) != nil else { continue }
            var st = stat()
            if stat("\(path)/\(name)", &st) == 0 { ids.append(FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))) }
        }
        return ids
    }
}
