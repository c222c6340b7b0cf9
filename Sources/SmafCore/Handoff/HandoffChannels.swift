// SPDX-License-Identifier: MIT
import SmafABI
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

/// One connection: the channel of the process SO_PEERCRED (or
/// EXT_CONNECT) named. Closed when the last reference goes: when it is
/// dropped from the table and the event loop's snapshot is gone.
final class HandoffChannel: Sendable {
    let socket: OwnedFD
    let pid: Int32
    let uid: UInt32
    init(_ socket: consuming OwnedFD, pid: Int32, uid: UInt32) {
        self.socket = socket
        self.pid = pid
        self.uid = uid
    }
    var fd: Int32 { socket.raw }
}

/// Hands buffer fds to the process that asked for them (docs/layout.md): a
/// SOCK_SEQPACKET socket in a root-owned directory; each connection is the
/// channel of one process. This is the table of channels and the sending
/// side; EventLoop accepts connections and reads what comes back.
public final class HandoffChannels: Sendable {
    public let socketPath: String
    let listener: OwnedFD
    /// An eventfd that makes the event loop look at the table again.
    let doorbell: OwnedFD
    private let logger: Logger
    /// A process's connections, oldest first; buffers go to the newest.
    private let table = Mutex([Int32: [HandoffChannel]]())
    /// Connections one process may hold at once; more are closed unanswered,
    /// so no peer can make smafd keep unbounded state.
    public let maxChannelsPerProcess: Int

    /// Creates `directory` (0755, owned by us) if needed and listens on
    /// `directory/name.sock`. Refuses a directory others could write to, so
    /// nobody can squat the socket path.
    /// `owner`: the uid the directory may belong to besides our own (the user
    /// smafd will drop to, who must be able to remove the socket at exit).
    public init(directory: String, name: String, maxChannelsPerProcess: Int = 4, owner: uid_t? = nil,
                logger: Logger) throws {
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
        let raw = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard raw >= 0 else { throw HandoffSetupError(description: "socket: \(String(cString: strerror(errno)))") }
        let listener = OwnedFD(raw)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener.raw, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // Anyone may connect: a channel only ever receives buffers its own
        // process asked for, and asking needs access to the device node.
        guard bound == 0, chmod(path, 0o666) == 0, listen(listener.raw, 128) == 0 else {
            throw HandoffSetupError(description: "cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        let wake = smaf_sys_eventfd()
        guard wake >= 0 else { throw HandoffSetupError(description: "eventfd: \(String(cString: strerror(errno)))") }
        self.doorbell = OwnedFD(wake)
        self.listener = listener
        self.socketPath = path
        self.maxChannelsPerProcess = max(1, maxChannelsPerProcess)
        self.logger = logger
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

    /// Wakes the event loop (a new channel to poll, the pool running low, a stop).
    func ring() {
        var one: UInt64 = 1
        _ = write(doorbell.raw, &one, 8)
    }

    /// Closes every channel and removes the socket (at shutdown; the
    /// listener and doorbell close with this object).
    func closeAll() {
        table.withLock { $0.removeAll() }
        unlink(socketPath)
    }

    public var channelCount: Int { table.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    public func hasChannel(process pid: Int32) -> Bool {
        table.withLock { $0[pid] != nil }
    }

    /// Every open channel, for the event loop to poll.
    func snapshot() -> [HandoffChannel] { table.withLock { $0.values.flatMap { $0 } } }

    /// Forgets one connection (it closes once nobody holds it).
    func drop(_ channel: HandoffChannel) {
        table.withLock { Self.drop(channel, in: &$0) }
    }

    private static func drop(_ channel: HandoffChannel, in map: inout [Int32: [HandoffChannel]]) {
        guard var list = map[channel.pid], let i = list.firstIndex(where: { $0 === channel }) else { return }
        list.remove(at: i)
        map[channel.pid] = list.isEmpty ? nil : list
    }

    /// Sends `fd` with its token to process `pid`'s channel, without blocking.
    /// ENOTCONN: no channel, or it broke (and is dropped); EAGAIN: the client
    /// is not reading and its queue is full.
    public func deliver(fd: Int32, token: Int32, flags: UInt32, length: UInt64, to pid: Int32) -> SmafErrno? {
        let header = HandoffMessage(token: token, flags: flags, length: length)
        return withUnsafeTemporaryAllocation(byteCount: HandoffProtocol.messageSize, alignment: 8) { msg in
            header.encode(into: msg)
            return table.withLock { map -> SmafErrno? in
                guard let channel = map[pid]?.last else { return .ENOTCONN }
                let n = smaf_sys_send_with_fd(channel.fd, msg.baseAddress, HandoffProtocol.messageSize, fd)
                if n == HandoffProtocol.messageSize { return nil }
                let e = errno
                if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) { return .EAGAIN }
                logger.debug("handoff channel of process \(pid) broke (\(String(cString: strerror(e)))); dropping it")
                Self.drop(channel, in: &map)
                return .ENOTCONN
            }
        }
    }

    /// Takes `socket` (smafd's own duplicate of an end of a socketpair the
    /// process made, SMAF_IOC_EXT_CONNECT) as process `pid`'s channel, with
    /// the checks a connection on the listening socket gets from SO_PEERCRED:
    /// the pair must have been made by that process and uid, so nobody can
    /// register a socket of another process, or give a process a channel
    /// someone else reads. The errno and reason on failure.
    public func adopt(socket: consuming OwnedFD, process pid: Int32, uid: UInt32) -> (SmafErrno, String)? {
        var domain: Int32 = 0, type: Int32 = 0
        var peerPID: Int32 = 0, peerUID: UInt32 = 0, peerGID: UInt32 = 0
        if smaf_sys_socket_kind(socket.raw, &domain, &type) != 0 { return (.EINVAL, "not a socket") }
        if domain != SMAF_AF_UNIX || type != SMAF_SOCK_SEQPACKET {
            return (.EINVAL, "not an AF_UNIX SOCK_SEQPACKET socket (domain \(domain), type \(type))")
        }
        if smaf_sys_peer_cred(socket.raw, &peerPID, &peerUID, &peerGID) != 0 || peerPID <= 0 {
            return (.EINVAL, "not a connected socket")
        }
        if peerPID != pid || peerUID != uid {
            return (.EPERM, "the socket pair was made by process \(peerPID) uid \(peerUID), not by the caller (process \(pid) uid \(uid))")
        }
        switch register(socket, process: pid, uid: uid) {
        case .registered: break
        case .overLimit:
            return (.EMFILE, "limit: the process already has --max-channels-per-process \(maxChannelsPerProcess) channels")
        case .welcomeFailed:
            return (.EINVAL, "the welcome could not be sent")
        }
        // The loop polls the channels it knew when it last woke: wake it so
        // this one's hang-up and queries are seen.
        ring()
        logger.debug("handoff channel of process \(pid) (uid \(uid)) adopted from its socket pair")
        return nil
    }

    enum Registration { case registered, overLimit, welcomeFailed }

    /// Makes `socket` a channel of process `pid` unless it has its limit of
    /// them, and sends the welcome. One step under the lock: registered
    /// before the welcome goes out, so a CREATE made after the client has
    /// read it always finds the channel.
    func register(_ socket: consuming OwnedFD, process pid: Int32, uid: UInt32) -> Registration {
        let welcome = HandoffMessage.welcome.encoded
        let channel = HandoffChannel(socket, pid: pid, uid: uid)
        return table.withLock { map -> Registration in
            guard (map[pid]?.count ?? 0) < maxChannelsPerProcess else { return .overLimit }
            map[pid, default: []].append(channel)
            let n = welcome.withUnsafeBytes { smaf_sys_send_with_fd(channel.fd, $0.baseAddress, $0.count, -1) }
            guard n == HandoffProtocol.messageSize else {
                Self.drop(channel, in: &map)
                return .welcomeFailed
            }
            return .registered
        }
    }
}
