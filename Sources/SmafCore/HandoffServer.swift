// SPDX-License-Identifier: MIT
import CSmafSys
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the handoff socket could not be set up.
public struct HandoffSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// The protocol constants of smaf_ext.h.
public enum HandoffProtocol {
    public static let version: UInt32 = 1
    public static let magic: UInt32 = 0x4641_4D53
    public static let messageSize = 24
    public static let maxPathBytes = 107  // sun_path minus its NUL
    public static let queryToken: Int32 = -1
    public static let queryInfo: UInt32 = 1
    public static let queryStatus: UInt32 = 2
    /// What smafd knows of one of the asker's buffers: `length` carries the
    /// fd number in the asking process.
    public static let queryBuffer: UInt32 = 3
    /// The live buffers the asker may see (all of them for root): `smafctl buffers`.
    public static let queryBuffers: UInt32 = 4
    public static let queryMax = 65536

    /// The 24-byte message: magic, protocol, token, flags, length.
    static func message(token: Int32, flags: UInt32, length: UInt64) -> (UInt32, UInt32, Int32, UInt32, UInt64) {
        (magic, version, token, flags, length)
    }
}

/// A question asked on a handoff channel, with who asked it.
public struct HandoffQuery: Sendable {
    public let kind: UInt32
    public let uid: UInt32
    public let pid: Int32
    /// The message's length field: the kind's argument.
    public let argument: UInt64
}

/// Hands buffer fds to the process that asked for them (design §2.1): a
/// SOCK_SEQPACKET socket in a root-owned directory; each connection is the
/// channel of the process SO_PEERCRED names. The event loop thread accepts
/// connections, notices when they go away, and drains the buffer lifetime
/// watches.
public final class HandoffServer: Sendable {
    public let socketPath: String
    private let listenFD: Int32
    private let wakeFD: Int32
    private let lifetime: BufferLifetime?
    private let pool: MemfdPool?
    private let logger: Logger
    private struct Channel {
        let fd: Int32
        let uid: UInt32
    }
    /// A process's connections, oldest first; buffers go to the newest.
    private let channels = Mutex([Int32: [Channel]]())
    /// Connections one process may hold at once; more are closed unanswered,
    /// so no peer can make smafd keep unbounded state.
    public let maxChannelsPerProcess: Int
    /// Connections accepted per turn of the event loop at most. A channel
    /// whose process has exited is dropped in the next turn, so a status
    /// snapshot may count up to this many such channels.
    public static let acceptsPerTurn = 16
    private let stopping = Atomic(false)
    private let responder = Mutex<(@Sendable (HandoffQuery) -> JSONValue?)?>(nil)
    private let loopThread = Mutex<pthread_t?>(nil)

    /// Creates `directory` (0755, owned by us) if needed and listens on
    /// `directory/name.sock`. Refuses a directory others could write to, so
    /// nobody can squat the socket path.
    /// `owner`: the uid the directory may belong to besides our own (the user
    /// smafd will drop to, who must be able to remove the socket at exit).
    public init(directory: String, name: String, lifetime: BufferLifetime?, pool: MemfdPool? = nil,
                maxChannelsPerProcess: Int = 4, owner: uid_t? = nil, logger: Logger) throws {
        let path = "\(directory)/\(name).sock"
        guard path.utf8.count <= HandoffProtocol.maxPathBytes else {
            throw HandoffSetupError(description: "handoff socket path \(path) is longer than \(HandoffProtocol.maxPathBytes) bytes")
        }
        try Self.prepare(directory: directory, owner: owner ?? geteuid())
        var st = stat()
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else {
                throw HandoffSetupError(description: "\(path) exists and is not a socket")
            }
            unlink(path)  // left over by a previous smafd
        }
        // Non-blocking, so the loop can accept several pending connections per
        // turn and stop at EAGAIN (accepted sockets do not inherit it).
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw HandoffSetupError(description: "socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // Anyone may connect: a channel only ever receives buffers its own
        // process asked for, and asking needs access to the device node.
        guard bound == 0, chmod(path, 0o666) == 0, listen(fd, 128) == 0 else {
            let e = errno
            close(fd)
            throw HandoffSetupError(description: "cannot listen on \(path): \(String(cString: strerror(e)))")
        }
        let wake = smaf_sys_eventfd()
        guard wake >= 0 else {
            close(fd)
            throw HandoffSetupError(description: "eventfd: \(String(cString: strerror(errno)))")
        }
        self.socketPath = path
        self.listenFD = fd
        self.wakeFD = wake
        self.lifetime = lifetime
        self.pool = pool
        self.maxChannelsPerProcess = max(1, maxChannelsPerProcess)
        self.logger = logger
        pool?.onLow { [wake] in
            var one: UInt64 = 1
            _ = write(wake, &one, 8)
        }
    }

    private static func prepare(directory: String, owner: uid_t) throws {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw HandoffSetupError(description: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard lstat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw HandoffSetupError(description: "\(directory) is not a directory")
        }
        guard st.st_uid == owner, st.st_mode & 0o022 == 0 else {
            throw HandoffSetupError(description: "\(directory) must be owned by uid \(owner) and writable by nobody else")
        }
    }

    /// Starts the event loop thread.
    public func start() throws {
        pool?.refill()
        guard let t = startThread({ [self] in self.runLoop() }) else {
            throw HandoffSetupError(description: "cannot start the handoff thread")
        }
        loopThread.withLock { $0 = t }
    }

    /// Stops the loop, closes every channel and removes the socket.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        if let t = loopThread.withLock({ $0 }) { pthread_join(t, nil) }
        channels.withLock { map in
            for list in map.values { for c in list { close(c.fd) } }
            map.removeAll()
        }
        close(listenFD)
        close(wakeFD)
        unlink(socketPath)
        pool?.close()
    }

    public var channelCount: Int { channels.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Answers queries (smaf_ext.h: token -1, flags = kind) on any channel;
    /// `answer` gets the query with the asking peer's uid and pid (SO_PEERCRED).
    public func setQueryResponder(_ answer: @escaping @Sendable (HandoffQuery) -> JSONValue?) {
        responder.withLock { $0 = answer }
    }

    public func hasChannel(process pid: Int32) -> Bool {
        channels.withLock { $0[pid] != nil }
    }

    /// Closes and forgets one connection (with the lock held).
    private static func drop(_ fd: Int32, of pid: Int32, in map: inout [Int32: [Channel]]) {
        guard var list = map[pid], let i = list.firstIndex(where: { $0.fd == fd }) else { return }
        close(list[i].fd)
        list.remove(at: i)
        map[pid] = list.isEmpty ? nil : list
    }

    /// Sends `fd` with its token to process `pid`'s channel, without blocking.
    /// ENOTCONN: no channel, or it broke (and is dropped); EAGAIN: the client
    /// is not reading and its queue is full.
    public func deliver(fd: Int32, token: Int32, flags: UInt32, length: UInt64, to pid: Int32) -> SmafErrno? {
        var msg = HandoffProtocol.message(token: token, flags: flags, length: length)
        return channels.withLock { map -> SmafErrno? in
            guard let channel = map[pid]?.last else { return .ENOTCONN }
            let n = withUnsafeBytes(of: &msg) { smaf_sys_send_with_fd(channel.fd, $0.baseAddress, HandoffProtocol.messageSize, fd) }
            if n == HandoffProtocol.messageSize { return nil }
            let e = errno
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) { return .EAGAIN }
            logger.debug("handoff channel of process \(pid) broke (\(String(cString: strerror(e)))); dropping it")
            Self.drop(channel.fd, of: pid, in: &map)
            return .ENOTCONN
        }
    }

    // MARK: - Event loop

    private func runLoop() {
        while !stopping.load(ordering: .acquiring) {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            if let l = lifetime { fds.append(pollfd(fd: l.inotifyFD, events: Int16(POLLIN), revents: 0)) }
            let fixed = fds.count
            let open = channels.withLock { $0.flatMap { pid, list in list.map { (pid, $0.fd, $0.uid) } } }
            for (_, fd, _) in open { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            let r = poll(&fds, nfds_t(fds.count), -1)
            if r < 0 {
                if errno == EINTR { continue }
                logger.error("handoff loop: poll failed: \(String(cString: strerror(errno)))")
                return
            }
            if fds[1].revents != 0 {
                var n: UInt64 = 0
                _ = read(wakeFD, &n, 8)
            }
            // A burst of connections (or a flood from one abuser) is taken in one
            // turn, bounded so the channels and watches still get their turn.
            if fds[0].revents != 0 {
                var taken = 0
                while taken < Self.acceptsPerTurn, acceptOne() { taken += 1 }
            }
            if fixed > 2, fds[2].revents != 0 { lifetime?.drain() }
            for (i, (pid, fd, uid)) in open.enumerated() where fds[fixed + i].revents != 0 {
                serviceChannel(pid: pid, uid: uid, fd: fd, revents: fds[fixed + i].revents)
            }
            pool?.refill()
        }
    }

    private func answerQuery(_ msg: [UInt8], on fd: Int32, from uid: UInt32, pid: Int32) {
        let field = { (off: Int) -> UInt32 in msg.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off, as: UInt32.self) } }
        guard field(0) == HandoffProtocol.magic, field(4) == HandoffProtocol.version,
              Int32(bitPattern: field(8)) == HandoffProtocol.queryToken else { return }
        let kind = field(12)
        let argument = msg.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
        let answer = responder.withLock { $0 }?(HandoffQuery(kind: kind, uid: uid, pid: pid, argument: argument))
        var body = Array((answer?.rendered ?? "").utf8)
        if body.count > HandoffProtocol.queryMax - HandoffProtocol.messageSize { body = [] }
        var reply = withUnsafeBytes(of: HandoffProtocol.message(token: HandoffProtocol.queryToken, flags: kind,
                                                               length: UInt64(body.count))) { Array($0) }
        reply += body
        _ = reply.withUnsafeBytes { smaf_sys_send_with_fd(fd, $0.baseAddress, $0.count, -1) }
    }

    /// Takes `socket` (smafd's own duplicate of an end of a socketpair the
    /// process made, SMAF_IOC_EXT_CONNECT) as process `pid`'s channel, with
    /// the checks a connection on the listening socket gets from SO_PEERCRED:
    /// the pair must have been made by that process and uid, so nobody can
    /// register a socket of another process, or give a process a channel
    /// someone else reads. Closes `socket` on failure; the errno and reason.
    public func adopt(socket fd: Int32, process pid: Int32, uid: UInt32) -> (SmafErrno, String)? {
        var domain: Int32 = 0, type: Int32 = 0
        var peerPID: Int32 = 0, peerUID: UInt32 = 0, peerGID: UInt32 = 0
        let failure: (SmafErrno, String)?
        if smaf_sys_socket_kind(fd, &domain, &type) != 0 {
            failure = (.EINVAL, "not a socket")
        } else if domain != SMAF_AF_UNIX || type != SMAF_SOCK_SEQPACKET {
            failure = (.EINVAL, "not an AF_UNIX SOCK_SEQPACKET socket (domain \(domain), type \(type))")
        } else if smaf_sys_peer_cred(fd, &peerPID, &peerUID, &peerGID) != 0 || peerPID <= 0 {
            failure = (.EINVAL, "not a connected socket")
        } else if peerPID != pid || peerUID != uid {
            failure = (.EPERM, "the socket pair was made by process \(peerPID) uid \(peerUID), not by the caller (process \(pid) uid \(uid))")
        } else {
            failure = nil
        }
        if let failure {
            close(fd)
            return failure
        }
        switch register(fd, process: pid, uid: uid) {
        case .registered: break
        case .overLimit:
            return (.EMFILE, "limit: the process already has --max-channels-per-process \(maxChannelsPerProcess) channels")
        case .welcomeFailed:
            return (.EINVAL, "the welcome could not be sent")
        }
        // The loop polls the channels it knew when it last woke: wake it so
        // this one's hang-up and queries are seen.
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        logger.debug("handoff channel of process \(pid) (uid \(uid)) adopted from its socket pair")
        return nil
    }

    enum Registration { case registered, overLimit, welcomeFailed }

    /// Makes `fd` a channel of process `pid` unless it has its limit of
    /// them, and sends the welcome; fd is closed unless registered. One
    /// step under the lock: registered before the welcome goes out, so a
    /// CREATE made after the client has read it always finds the channel.
    private func register(_ fd: Int32, process pid: Int32, uid: UInt32) -> Registration {
        var welcome = HandoffProtocol.message(token: 0, flags: 0, length: 0)
        return channels.withLock { map -> Registration in
            guard (map[pid]?.count ?? 0) < maxChannelsPerProcess else {
                close(fd)
                return .overLimit
            }
            map[pid, default: []].append(Channel(fd: fd, uid: uid))
            let n = withUnsafeBytes(of: &welcome) { smaf_sys_send_with_fd(fd, $0.baseAddress, HandoffProtocol.messageSize, -1) }
            guard n == HandoffProtocol.messageSize else {
                Self.drop(fd, of: pid, in: &map)
                return .welcomeFailed
            }
            return .registered
        }
    }

    /// Accepts one pending connection; false when there is none (EAGAIN) or
    /// accept failed.
    private func acceptOne() -> Bool {
        let fd = accept(listenFD, nil, nil)
        guard fd >= 0 else { return false }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        guard smaf_sys_peer_cred(fd, &pid, &uid, &gid) == 0, pid > 0 else {
            close(fd)
            return true
        }
        let accepted = register(fd, process: pid, uid: uid) != .overLimit
        if accepted {
            logger.debug("handoff channel opened by process \(pid) (uid \(uid))")
        } else {
            logger.debug("refused a handoff connection from process \(pid) (uid \(uid)): limit: it already has --max-channels-per-process \(maxChannelsPerProcess)")
        }
        return true
    }

    private func serviceChannel(pid: Int32, uid: UInt32, fd: Int32, revents: Int16) {
        // Clients only ever send queries; anything else is read and dropped.
        var buf = [UInt8](repeating: 0, count: 64)
        var received: Int32 = -1
        let n = buf.withUnsafeMutableBytes { smaf_sys_recv_with_fd(fd, $0.baseAddress, $0.count, &received, 1) }
        if received >= 0 { close(received) }
        if n == HandoffProtocol.messageSize { answerQuery(buf, on: fd, from: uid, pid: pid) }
        let gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            || revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
        guard gone else { return }
        channels.withLock { map in Self.drop(fd, of: pid, in: &map) }
        logger.debug("handoff channel of process \(pid) closed")
    }
}
