// SPDX-License-Identifier: MIT
import CFuse
import CSmafSys
import SmafCUSE
import SmafCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Running in the background (without --foreground): the parent waits
/// until the child has the node, so a start script sees it exist.
extension Smafd {
    /// Forks; the parent exits 0 once the child reports the node exists, 1 if
    /// the child dies first. Returns the child's end of the pipe.
    func detach() throws -> ReadyPipe {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw CUSEError("pipe: \(String(cString: strerror(errno)))") }
        let reader = OwnedFD(fds[0]), writer = OwnedFD(fds[1])
        _ = fcntl(writer.raw, F_SETFD, FD_CLOEXEC)
        let pid = smaf_fork()
        if pid < 0 { throw CUSEError("fork: \(String(cString: strerror(errno)))") }
        if pid > 0 {
            _ = consume writer  // so that the child's exit shows as end of file
            var byte: UInt8 = 0
            var n: Int
            repeat { n = read(reader.raw, &byte, 1) } while n < 0 && errno == EINTR
            Glibc.exit(n == 1 ? 0 : 1)
        }
        _ = consume reader
        _ = setsid()
        if let devnull = OwnedFD.open("/dev/null", O_RDWR) { dup2(devnull.raw, 0) }
        return ReadyPipe(writer)
    }
}

/// The detached child's end of the pipe its parent waits on: one byte once
/// the node exists, then closed.
final class ReadyPipe: Sendable {
    private let end: Mutex<OwnedFD?>
    init(_ fd: consuming OwnedFD) { end = Mutex(fd) }
    func signal() {
        guard let fd = end.withLock({ $0.take() }) else { return }
        var ok: UInt8 = 1
        _ = write(fd.raw, &ok, 1)
    }
}

