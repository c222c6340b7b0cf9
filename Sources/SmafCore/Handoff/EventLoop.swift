// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// smafd's one event thread. It waits on one epoll set (HandoffChannels)
/// and, for what is ready, accepts handoff connections, answers queries on
/// the channels (and drops those that hung up), ends the buffers inotify
/// reports gone (BufferLifetime) and tops up the pools (MemfdPool,
/// ExportPool) when they run low. The request path never waits for it.
///
/// Buffer ends are taken in batches: after a drain the inotify descriptor
/// rests for `coalescing` before it is looked at again, so under a stream
/// of closes one wake-up ends many buffers instead of one each. The
/// records of ended buffers may live on that much longer, except where it
/// matters: a CREATE about to be refused for a limit or quota, a status or
/// a buffer list drain the queue first (SmafDevice.forgetEnded). Nothing is
/// lost: an overflowing queue is answered by a re-scan (BufferLifetime.drain).
public final class EventLoop: Sendable {
    private let channels: HandoffChannels
    private let lifetime: BufferLifetime?
    private let pool: MemfdPool?
    private let exports: ExportPool?
    private let logger: Logger
    private let responder = LateCallback<HandoffQuery, JSONValue?>()
    private let stopping = Atomic(false)
    private let thread = Mutex<pthread_t?>(nil)
    /// Connections accepted per turn at most. A channel whose process has
    /// exited is dropped in the next turn, so a status snapshot may count up
    /// to this many such channels.
    public static let acceptsPerTurn = 16
    /// How long the inotify descriptor rests after a drain (milliseconds).
    public static let coalescing: Int32 = 20
    static let inotifyKey: UInt64 = 3

    public init(channels: HandoffChannels, lifetime: BufferLifetime?, pool: MemfdPool? = nil,
                exports: ExportPool? = nil, logger: Logger) {
        self.channels = channels
        self.lifetime = lifetime
        self.pool = pool
        self.exports = exports
        self.logger = logger
        pool?.onLow { [channels] in channels.ring() }
        exports?.onLow { [channels] in channels.ring() }
    }

    /// Answers queries (smaf_ext.h: token -1, flags = kind) on any channel;
    /// `answer` gets the query with the asking peer's uid and pid (SO_PEERCRED).
    public func setQueryResponder(_ answer: @escaping @Sendable (HandoffQuery) -> JSONValue?) {
        responder.set(answer)
    }

    /// Starts the thread.
    public func start() throws {
        pool?.refill()
        guard let t = startThread({ [self] in self.run() }) else {
            throw HandoffSetupError(description: "cannot start the event loop thread")
        }
        thread.withLock { $0 = t }
    }

    /// Stops the thread, closes every channel, removes the socket and
    /// closes the pools' buffers.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        channels.ring()
        if let t = thread.withLock({ $0 }) { pthread_join(t, nil) }
        channels.closeAll()
        pool?.close()
        exports?.close()
    }

    private func run() {
        let listenFD = channels.listener.raw, wakeFD = channels.doorbell.raw, set = channels.events.raw
        if let l = lifetime, smaf_events_add(set, l.inotifyFD, Self.inotifyKey, 1) != 0 {
            logger.error("event loop: cannot add inotify to the event set: \(String(cString: strerror(errno)))")
            return
        }
        var keys = [UInt64](repeating: 0, count: 64), hangup = [UInt8](repeating: 0, count: 64)
        var resting = false  // inotify is disarmed for one wait after a drain
        while !stopping.load(ordering: .acquiring) {
            let timeout: Int32 = resting ? Self.coalescing : -1
            let n = smaf_events_wait(set, &keys, &hangup, Int32(keys.count), timeout)
            if resting {  // the rest is over (or cut short by other work)
                _ = smaf_events_rearm(set, lifetime!.inotifyFD, Self.inotifyKey)
                resting = false
            }
            if n < 0 {
                if errno == EINTR { continue }
                logger.error("event loop: epoll_wait failed: \(String(cString: strerror(errno)))")
                return
            }
            for i in 0..<Int(n) {
                switch keys[i] {
                case HandoffChannels.doorbellKey:
                    var v: UInt64 = 0
                    _ = read(wakeFD, &v, 8)
                case HandoffChannels.listenerKey:
                    // A burst of connections (or a flood from one abuser) is taken in
                    // one turn, bounded so the channels and watches still get theirs.
                    var taken = 0
                    while taken < Self.acceptsPerTurn, acceptOne(listenFD) { taken += 1 }
                case Self.inotifyKey:
                    _ = lifetime?.drain()
                    resting = true
                default:
                    if let c = channels.channel(key: keys[i]) { service(c, hungUp: hangup[i] != 0) }
                }
            }
            pool?.refillIfLow()
            exports?.refill()
        }
    }

    /// Accepts one pending connection; false when there is none (EAGAIN) or
    /// accept failed.
    private func acceptOne(_ listenFD: Int32) -> Bool {
        let raw = accept(listenFD, nil, nil)
        guard raw >= 0 else { return false }
        let socket = OwnedFD(raw)
        _ = fcntl(socket.raw, F_SETFD, FD_CLOEXEC)
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        guard smaf_sys_peer_cred(socket.raw, &pid, &uid, &gid) == 0, pid > 0 else { return true }
        if channels.register(socket, process: pid, uid: uid) != .overLimit {
            logger.debug("handoff channel opened by process \(pid) (uid \(uid))")
        } else {
            logger.debug("refused a handoff connection from process \(pid) (uid \(uid)): limit: it already has --max-channels-per-process \(channels.maxChannelsPerProcess)")
        }
        return true
    }

    private func service(_ c: HandoffChannel, hungUp: Bool) {
        // Clients only ever send queries; anything else is read and dropped.
        var buf = [UInt8](repeating: 0, count: 64)
        var received: Int32 = -1
        let n = buf.withUnsafeMutableBytes { smaf_sys_recv_with_fd(c.fd, $0.baseAddress, $0.count, &received, 1) }
        if received >= 0 { _ = OwnedFD(received) }  // a client sent an fd: closed at once
        if n == HandoffProtocol.messageSize, let m = buf.withUnsafeBytes({ HandoffMessage(decoding: $0) }), m.isQuery {
            answer(HandoffQuery(kind: m.flags, uid: c.uid, pid: c.pid, argument: m.length), on: c)
        }
        let gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            || hungUp
        guard gone else { return }
        channels.drop(c)
        logger.debug("handoff channel of process \(c.pid) closed")
    }

    private func answer(_ q: HandoffQuery, on c: HandoffChannel) {
        let answer = responder(q) ?? nil
        var body = Array((answer?.rendered ?? "").utf8)
        if body.count > HandoffProtocol.queryMax - HandoffProtocol.messageSize { body = [] }
        let reply = HandoffMessage(token: HandoffProtocol.queryToken, flags: q.kind, length: UInt64(body.count)).encoded + body
        _ = reply.withUnsafeBytes { smaf_sys_send_with_fd(c.fd, $0.baseAddress, $0.count, -1) }
    }
}

