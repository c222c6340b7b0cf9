// SPDX-License-Identifier: MIT
import SmafABI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Device facts read once per device and kept until udev or the kernel
/// changes what they came from, so EXT_CREATE_FOR and EXT_DEVICES cost two
/// stat(2)s per device instead of a libudev lookup and a sysfs walk.
///
/// An entry is stamped with udev's database record of the device
/// (/run/udev/data/cMAJOR:MINOR, which udev rewrites for every event it
/// processes for that device: a rule or hwdb change applied by
/// `udevadm trigger`, an add, a change) and with the device's sysfs
/// directory (a new one when the device is removed and added again, even
/// with no udev running). A different stamp reads the facts afresh.
public final class DeviceFactCache: DeviceFactSource {
    /// What the facts were read from, as stat(2) saw it.
    struct Stamp: Equatable {
        var udevRecord: FileStamp?
        var sysfsDirectory: FileStamp?
    }
    struct FileStamp: Equatable {
        var inode: UInt64, seconds: Int, nanoseconds: Int, size: Int64
    }

    private let source: any DeviceFactSource
    private let udevData: String
    private let entries = Mutex([UInt64: (stamp: Stamp, facts: DeviceFacts)]())
    private let reads = Atomic<UInt64>(0)
    /// Devices remembered at most; more empties the cache (no caller can
    /// grow it without bound by naming many devices).
    static let capacity = 256

    /// `udevData`: where udev keeps its device records (a test points it elsewhere).
    public init(_ source: any DeviceFactSource = SystemDeviceFacts(), udevData: String = "/run/udev/data") {
        self.source = source
        self.udevData = udevData
    }

    /// How many times the facts were read from the source (misses).
    public var sourceReads: UInt64 { reads.load(ordering: .relaxed) }

    public func facts(major: UInt32, minor: UInt32) -> DeviceFacts {
        let key = UInt64(major) << 32 | UInt64(minor)
        let stamp = Stamp(udevRecord: Self.stamp("\(udevData)/c\(major):\(minor)"),
                          sysfsDirectory: Self.stamp("/sys/dev/char/\(major):\(minor)"))
        if let hit = entries.withLock({ $0[key] }), hit.stamp == stamp { return hit.facts }
        let f = source.facts(major: major, minor: minor)
        reads.add(1, ordering: .relaxed)
        entries.withLock { e in
            if e.count >= Self.capacity { e.removeAll(keepingCapacity: true) }
            e[key] = (stamp, f)
        }
        return f
    }

    private static func stamp(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(inode: UInt64(st.st_ino), seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec, size: Int64(st.st_size))
    }
}
