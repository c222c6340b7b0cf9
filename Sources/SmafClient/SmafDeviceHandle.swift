// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys


#if canImport(Glibc)
import Glibc
#endif

/// An error a client can show a user: the errno and what was being done.
public struct SmafClientError: Error, CustomStringConvertible {
    public let errno: Int32
    public let action: String
    public init(_ errno: Int32, _ action: String) {
        self.errno = errno
        self.action = action
    }
    public var description: String { "\(action): \(String(cString: strerror(errno)))" }
}

/// An open SMAF device node and typed ioctls on it.
public final class SmafDeviceHandle {
    public let path: String
    public let fd: Int32

    public init(path: String) throws(SmafClientError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SmafClientError(errno, "open \(path)") }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// `$SMAF_DEVICE`, or /dev/smaf.
    public static var defaultPath: String {
        getenv("SMAF_DEVICE").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/dev/smaf"
    }

    /// One ioctl with a v10 (or extension) struct in and out; 0 or the errno.
    public func ioctl<T: SmafWireStruct>(_ request: UInt32, _ value: inout T) -> Int32 {
        var bytes = value.encoded
        let r = raw(request, &bytes)
        if r == 0, let v = T(decoding: bytes) { value = v }
        return r
    }

    /// An ioctl on raw bytes (any size, any number); 0 or the errno.
    public func raw(_ request: UInt32, _ bytes: inout [UInt8]) -> Int32 {
        let r = bytes.withUnsafeMutableBytes { smaf_sys_ioctl(fd, UInt(request), $0.baseAddress) }
        return r == 0 ? 0 : errno
    }

    /// An ioctl with an arbitrary argument pointer (for EFAULT checks).
    public func raw(_ request: UInt32, pointer: UnsafeMutableRawPointer?) -> Int32 {
        smaf_sys_ioctl(fd, UInt(request), pointer) == 0 ? 0 : errno
    }

    /// Allocator names in rank order (GET_INFO from index 0 until EINVAL).
    public func allocators() throws(SmafClientError) -> [String] {
        var names: [String] = []
        var index: UInt32 = 0
        while true {
            var info = SmafInfo()
            info.index = index
            let e = ioctl(SmafRequest.getInfo.rawValue, &info)
            if e == EINVAL && index > 0 { return names }
            guard e == 0 else { throw SmafClientError(e, "SMAF_IOC_GET_INFO index \(index)") }
            names.append(info.name.string)
            index += 1
            if index >= info.count { return names }
        }
    }

    public func getSecure(fd: Int32) -> Result<Bool, SmafClientError> {
        var s = SmafSecureFlag()
        s.fd = fd
        let e = ioctl(SmafRequest.getSecureFlag.rawValue, &s)
        return e == 0 ? .success(s.secure != 0) : .failure(SmafClientError(e, "SMAF_IOC_GET_SECURE_FLAG"))
    }

    public func setSecure(fd: Int32, _ secure: Bool) -> Result<Void, SmafClientError> {
        var s = SmafSecureFlag()
        s.fd = fd
        s.secure = secure ? 1 : 0
        let e = ioctl(SmafRequest.setSecureFlag.rawValue, &s)
        return e == 0 ? .success(()) : .failure(SmafClientError(e, "SMAF_IOC_SET_SECURE_FLAG"))
    }
}
