// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#endif

/// What one user may hold and how big a buffer may be (issue "limits").
/// Exceeding one refuses the CREATE with a documented errno and a log line;
/// nothing else is disturbed.
public struct Limits: Sendable, Equatable {
    /// Largest buffer (page-rounded). Larger: ENOMEM.
    public var maxBufferSize: UInt64
    /// Live buffers one uid may own. More: EMFILE.
    public var maxBuffersPerUser: Int
    /// Live bytes one uid may own. More: ENOMEM.
    public var maxBytesPerUser: UInt64

    public init(maxBufferSize: UInt64, maxBuffersPerUser: Int, maxBytesPerUser: UInt64) {
        self.maxBufferSize = maxBufferSize
        self.maxBuffersPerUser = maxBuffersPerUser
        self.maxBytesPerUser = maxBytesPerUser
    }

    /// Physical memory, the natural bound for both sizes.
    public static var physicalMemory: UInt64 {
        UInt64(max(sysconf(Int32(_SC_PHYS_PAGES)), 1)) * UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 4096))
    }

    /// Safe defaults: no buffer or user beyond physical memory, 16,384 live
    /// buffers per user (each costs smafd an inotify watch and ~200 bytes).
    public static let defaults = Limits(maxBufferSize: physicalMemory, maxBuffersPerUser: 16_384,
                                        maxBytesPerUser: physicalMemory)

    public static let unlimited = Limits(maxBufferSize: UInt64(Int64.max), maxBuffersPerUser: .max,
                                         maxBytesPerUser: .max)
}

/// "16M", "4096", "1.5G", "2GiB" -> bytes (binary units); nil if not a size
/// or beyond Int64.max (no file, so no buffer, can be larger: off_t).
public func parseByteSize(_ text: String) -> UInt64? {
    var t = Substring(text.uppercased())
    while t.first == " " { t.removeFirst() }
    while t.last == " " { t.removeLast() }
    let scales: [(String, Double)] = [("GIB", 1_073_741_824), ("MIB", 1_048_576), ("KIB", 1024),
                                      ("G", 1_073_741_824), ("M", 1_048_576), ("K", 1024), ("B", 1)]
    for (suffix, scale) in scales where t.hasSuffix(suffix) {
        // 9.2e18 < Int64.max as a Double, so the conversion cannot trap.
        guard let v = Double(t.dropLast(suffix.count)), v >= 0, v * scale < 9.2e18 else { return nil }
        return UInt64(v * scale)
    }
    guard let v = UInt64(t), v <= UInt64(Int64.max) else { return nil }
    return v
}
