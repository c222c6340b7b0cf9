// SPDX-License-Identifier: MIT
import SmafABI
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
/// or beyond Int64.max. ByteSize.parse says why.
public func parseByteSize(_ text: String) -> UInt64? {
    try? ByteSize.parse(text).get()
}
