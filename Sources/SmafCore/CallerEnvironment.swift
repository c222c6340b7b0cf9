// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys

#if canImport(Glibc)
import Glibc
#endif

/// Who made a request, as FUSE reports it: the calling *thread* id and its
/// credentials.
public struct Caller: Sendable, Equatable {
    public let tid: Int32
    public let uid: UInt32
    public let gid: UInt32
    /// A 32-bit program on a 64-bit kernel (CUSE's FUSE_IOCTL_COMPAT). Its
    /// v10 structs are the same; the request number says which legacy
    /// layout it uses, so this only shows in logs.
    public let compat: Bool
    public init(tid: Int32, uid: UInt32, gid: UInt32, compat: Bool = false) {
        self.tid = tid
        self.uid = uid
        self.gid = gid
        self.compat = compat
    }
}

/// What the dispatcher needs to know about a caller beyond the request
/// bytes. A protocol so tests can run the dispatcher without /proc.
public protocol CallerEnvironment: Sendable {
    /// The identity of fd number `fd` in the fd table of thread `tid`, or nil
    /// if it is not open there (or the thread is gone).
    func fileIdentity(ofFD fd: Int32, inThread tid: Int32) -> FileIdentity?
    /// The process (thread group) a thread belongs to.
    func processID(ofThread tid: Int32) -> Int32?
    /// Whether fd `fd` of thread `tid` is a memfd or dma-buf named as smafd
    /// names its buffers. Asked only for fds that are not in the buffer table: such an
    /// fd is a buffer of an earlier smafd instance (or a look-alike), whose
    /// secure state this instance cannot know.
    func looksLikeSmafBuffer(fd: Int32, inThread tid: Int32) -> Bool
    /// The character device fd `fd` of thread `tid` is open on.
    func device(ofFD fd: Int32, inThread tid: Int32) -> DeviceLookup
    /// A duplicate, owned by smafd, of fd `fd` of process `pid`: EBADF if it
    /// is not open there, EOPNOTSUPP if smafd cannot take it (no pidfd_getfd
    /// in the kernel, or a seccomp filter or missing CAP_SYS_PTRACE refuses
    /// it): the client then uses the socket path.
    func takeFD(_ fd: Int32, ofProcess pid: Int32) -> Result<Int32, SmafErrno>
    /// The cgroup v2 path of process `pid` ("/" if unknown): its quota entry.
    func cgroup(ofProcess pid: Int32) -> String
}

/// What an fd number a caller names as a device resolves to.
public enum DeviceLookup: Sendable, Equatable {
    case notOpen
    case notCharacterDevice
    case device(major: UInt32, minor: UInt32)
}

extension CallerEnvironment {
    public func looksLikeSmafBuffer(fd: Int32, inThread tid: Int32) -> Bool { false }
    public func device(ofFD fd: Int32, inThread tid: Int32) -> DeviceLookup { .notOpen }
    public func takeFD(_ fd: Int32, ofProcess pid: Int32) -> Result<Int32, SmafErrno> { .failure(.EOPNOTSUPP) }
    public func cgroup(ofProcess pid: Int32) -> String { "/" }
}

/// The name every smafd buffer's memfd carries ("/memfd:smaf-buffer (deleted)"
/// in /proc/<pid>/fd).
public let smafBufferMemfdName = "smaf-buffer"

/// The real environment: /proc of the pid namespace smafd runs in. Reading
/// another process's fd table needs root or CAP_SYS_PTRACE.
public struct ProcFSEnvironment: CallerEnvironment {
    public init() {}

    public func fileIdentity(ofFD fd: Int32, inThread tid: Int32) -> FileIdentity? {
        guard fd >= 0, tid > 0 else { return nil }
        var st = stat()
        // stat() follows the magic link to the open file itself. The path is
        // built on the stack: this runs for every GET/SET_SECURE_FLAG.
        let r = withProcFDPath(tid: tid, fd: fd) { stat($0, &st) }
        guard r == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    public func looksLikeSmafBuffer(fd: Int32, inThread tid: Int32) -> Bool {
        guard fd >= 0, tid > 0 else { return false }
        var target = [CChar](repeating: 0, count: 64)
        let n = withProcFDPath(tid: tid, fd: fd) { readlink($0, &target, target.count - 1) }
        guard n > 0 else { return false }
        let link = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return link.hasPrefix("/memfd:\(smafBufferMemfdName)") || link.hasPrefix("/dmabuf:smaf:")
    }

    public func device(ofFD fd: Int32, inThread tid: Int32) -> DeviceLookup {
        guard fd >= 0, tid > 0 else { return .notOpen }
        var major: UInt32 = 0, minor: UInt32 = 0
        switch withProcFDPath(tid: tid, fd: fd, { smaf_sys_char_device($0, &major, &minor) }) {
        case 1: return .device(major: major, minor: minor)
        case 0: return .notCharacterDevice
        default: return .notOpen
        }
    }

    public func takeFD(_ fd: Int32, ofProcess pid: Int32) -> Result<Int32, SmafErrno> {
        guard fd >= 0, pid > 0 else { return .failure(.EBADF) }
        let taken = smaf_sys_take_fd(pid, fd)
        if taken >= 0 { return .success(taken) }
        switch errno {
        case EBADF: return .failure(.EBADF)
        default: return .failure(.EOPNOTSUPP)  // ENOSYS, EPERM; ESRCH cannot be: the caller waits in its ioctl
        }
    }

    public func cgroup(ofProcess pid: Int32) -> String { CgroupReader.cgroup(ofProcess: pid) }

    public func processID(ofThread tid: Int32) -> Int32? {
        guard tid > 0 else { return nil }
        guard let fd = OwnedFD.open("/proc/\(tid)/status", O_RDONLY) else { return nil }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { read(fd.raw, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        // "Tgid:\t<pid>\n" is among the first lines of the file.
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingPrefix(while: { $0 == " " || $0 == "\t" }))
        }
        return nil
    }
}

/// Calls `body` with the C string "/proc/<tid>/fd/<fd>" (both non-negative),
/// formatted into a stack buffer instead of a heap-allocated String.
func withProcFDPath<R>(tid: Int32, fd: Int32, _ body: (UnsafePointer<CChar>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 48) { buf in
        var i = 0
        func put(_ s: StaticString) {
            s.withUTF8Buffer { for b in $0 { buf[i] = CChar(bitPattern: b); i += 1 } }
        }
        func put(_ v: Int32) {
            var digits: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var n = UInt32(v), count = 0
            withUnsafeMutableBytes(of: &digits) { d in
                repeat {
                    d[count] = UInt8(48 + n % 10)
                    n /= 10
                    count += 1
                } while n > 0
                while count > 0 {
                    count -= 1
                    buf[i] = CChar(bitPattern: d[count])
                    i += 1
                }
            }
        }
        put("/proc/")
        put(tid)
        put("/fd/")
        put(fd)
        buf[i] = 0
        return body(UnsafePointer(buf.baseAddress!))
    }
}
