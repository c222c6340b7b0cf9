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
/// EXT_CONNECT) named. Closed when the last reference goes: once it is
/// dropped from the table and no send in flight holds it.
final class HandoffChannel: Sendable {
    let socket: OwnedFD
    let pid: Int32
    let uid: UInt32
    /// What the event set reports this channel under.
    let key: UInt64
    init(_ socket: consuming OwnedFD, pid: Int32, uid: UInt32, key: UInt64) {
        self.socket = socket
        self.pid = pid
        self.uid = uid
        self.key = key
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
    /// An eventfd that wakes the event loop (the pool running low, a stop).
    let doorbell: OwnedFD
    /// The epoll set the event loop waits on. A channel joins it when it is
    /// registered and leaves when it is dropped, so a wait never rebuilds
    /// anything and costs the same whatever the number of channels.
    let events: OwnedFD
    private let logger: Logger
    private struct Table {
        /// A process's connections, oldest first; buffers go to the newest.
        var byProcess: [Int32: [HandoffChannel]] = [:]
        /// Every connection by its event key.
        var byKey: [UInt64: HandoffChannel] = [:]
    }
    private let table = Mutex(Table())
    private let nextKey = Atomic<UInt64>(HandoffChannels.firstChannelKey)
    /// Event keys below this name the loop's own descriptors.
    static let firstChannelKey: UInt64 = 16
    static let listenerKey: UInt64 = 1, doorbellKey: UInt64 = 2
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
        let doorbell = OwnedFD(wake)
        let set = smaf_events_create()
        guard set >= 0 else { throw HandoffSetupError(description: "epoll_create1: \(String(cString: strerror(errno)))") }
        let events = OwnedFD(set)
        guard smaf_events_add(events.raw, listener.raw, Self.listenerKey, 0) == 0,
              smaf_events_add(events.raw, doorbell.raw, Self.doorbellKey, 0) == 0 else {
            throw HandoffSetupError(description: "epoll_ctl: \(String(cString: strerror(errno)))")
        }
        self.doorbell = doorbell
        self.events = events
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

    /// Wakes the event loop (the pool running low, a stop).
    func ring() {
        var one: UInt64 = 1
        _ = write(doorbell.raw, &one, 8)
    }

    /// Closes every channel and removes the socket (at shutdown; the
    /// listener and doorbell close with this object).
    func closeAll() {
        table.withLock { $0 = Table() }
        unlink(socketPath)
    }

    public var channelCount: Int { table.withLock { $0.byKey.count } }

    public func hasChannel(process pid: Int32) -> Bool {
        table.withLock { $0.byProcess[pid] != nil }
    }

    /// The channel the event set reported under `key`, if it is still open.
    func channel(key: UInt64) -> HandoffChannel? { table.withLock { $0.byKey[key] } }

    /// Forgets one connection (it closes once nobody holds it).
    func drop(_ channel: HandoffChannel) {
        table.withLock { drop(channel, in: &$0) }
    }

    private func drop(_ channel: HandoffChannel, in t: inout Table) {
        guard t.byKey.removeValue(forKey: channel.key) != nil else { return }
        _ = smaf_events_remove(events.raw, channel.fd)
        guard var list = t.byProcess[channel.pid], let i = list.firstIndex(where: { $0 === channel }) else { return }
        list.remove(at: i)
        t.byProcess[channel.pid] = list.isEmpty ? nil : list
    }

    /// Sends `fd` with its token to process `pid`'s channel, without blocking.
    /// ENOTCONN: no channel, or it broke (and is dropped); EAGAIN: the client
    /// is not reading and its queue is full.
    public func deliver(fd: Int32, token: Int32, flags: UInt32, length: UInt64, to pid: Int32) -> SmafErrno? {
        // The lock only finds the channel: concurrent CREATEs send at once
        // (a SEQPACKET message is sent whole or not at all).
        guard let channel = table.withLock({ $0.byProcess[pid]?.last }) else { return .ENOTCONN }
        let header = HandoffMessage(token: token, flags: flags, length: length)
        let n = withUnsafeTemporaryAllocation(byteCount: HandoffProtocol.messageSize, alignment: 8) { msg in
            header.encode(into: msg)
            return smaf_sys_send_with_fd(channel.fd, msg.baseAddress, HandoffProtocol.messageSize, fd)
        }
        if n == HandoffProtocol.messageSize { return nil }
        let e = errno
        if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) { return .EAGAIN }
        logger.debug("handoff channel of process \(pid) broke (\(String(cString: strerror(e)))); dropping it")
        drop(channel)
        return .ENOTCONN
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
        let channel = HandoffChannel(socket, pid: pid, uid: uid, key: nextKey.add(1, ordering: .relaxed).oldValue)
        return table.withLock { t -> Registration in
            guard (t.byProcess[pid]?.count ?? 0) < maxChannelsPerProcess else { return .overLimit }
            guard smaf_events_add(events.raw, channel.fd, channel.key, 0) == 0 else {
                logger.warning("cannot add a handoff channel to the event set: \(String(cString: strerror(errno)))")
                return .welcomeFailed
            }
            t.byKey[channel.key] = channel
            t.byProcess[pid, default: []].append(channel)
            let n = welcome.withUnsafeBytes { smaf_sys_send_with_fd(channel.fd, $0.baseAddress, $0.count, -1) }
            guard n == HandoffProtocol.messageSize else {
                drop(channel, in: &t)
                return .welcomeFailed
            }
            return .registered
        }
    }
}
