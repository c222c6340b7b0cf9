// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How the end of a buffer shows in inotify.
public enum BufferLifetimeKind: Sendable, Equatable {
    /// A memfd: one inode, possibly several open files (smafd's own, the
    /// read-only reopen). IN_DELETE_SELF, then IN_IGNORED, arrive when the
    /// inode dies: last fd and last mapping gone. The watch does not pin it.
    case inode
    /// A file that exists once and is shared by every fd and mapping (a
    /// dma-buf, a memfd_secret): its single close event (IN_CLOSE_WRITE, or
    /// IN_CLOSE_NOWRITE for a read-only one) is the last reference going,
    /// an importer's handle included. The watch would pin the inode (and a
    /// secretmem inode's pages), so it is one-shot: gone with that event.
    case lastClose
}

/// Keeps the buffer table in step with the kernel's own reference counting
///: smafd holds no reference to a buffer after handing it over,
/// only an inotify watch on it, and drops the record when the watch reports
/// the buffer gone (see BufferLifetimeKind).
public final class BufferLifetime: Sendable {
    public let table: BufferTable
    /// Non-blocking inotify descriptor; the event loop polls it and calls drain().
    private let inotify: OwnedFD
    public var inotifyFD: Int32 { inotify.raw }
    /// Quota charges of live buffers, given back when they die (nil: none kept).
    public let quotas: QuotaLedger?
    private let watches = Mutex([Int32: (identity: FileIdentity, kind: BufferLifetimeKind)]())
    private let created = Atomic<UInt64>(0)
    private let rescans = Atomic<UInt64>(0)
    /// Until when (ms) watches count as scarce after one could not be added.
    private let scarceUntil = Atomic<UInt64>(0)
    /// fs.inotify.max_user_watches, re-read at most once a second.
    private let watchLimit = Mutex<(limit: Int, until: UInt64)>((0, 0))
    let logger: Logger

    public init(table: BufferTable, quotas: QuotaLedger? = nil, logger: Logger) throws(SmafErrno) {
        let fd = smaf_sys_inotify_init()
        guard fd >= 0 else { throw errno == EMFILE ? .ENOSPC : .ENOMEM }
        self.inotify = OwnedFD(fd)
        self.table = table
        self.quotas = quotas
        self.logger = logger
    }

    /// Buffers created since start.
    public var createdTotal: UInt64 { created.load(ordering: .relaxed) }

    /// Starts tracking the buffer open as `fd` in smafd. Must be called while
    /// smafd still holds `fd`, so the inode cannot die before it is watched.
    /// Watch exhaustion (fs.inotify.max_user_watches) is ENOSPC.
    public func track(fd: Int32, kind: BufferLifetimeKind = .inode, record: BufferRecord,
                      within limits: Limits = .unlimited) throws(SmafErrno) -> FileIdentity {
        let identity = try watch(fd: fd, kind: kind)
        try self.record(record, for: identity, within: limits)
        return identity
    }

    /// The first half of `track`: identify `fd` and watch its inode. A
    /// watched file with no record is simply ignored when it goes away.
    public func watch(fd: Int32, kind: BufferLifetimeKind = .inode) throws(SmafErrno) -> FileIdentity {
        let identity = try Self.identify(fd: fd)
        try watch(fd: fd, kind: kind, as: identity)
        return identity
    }

    /// The identity `fd` resolves to (its device and inode).
    public static func identify(fd: Int32) throws(SmafErrno) -> FileIdentity {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .ENOMEM }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Watches `fd`, already identified as `identity`. CREATE does this after
    /// its reply (smafd still holds `fd`, so the buffer cannot end first).
    public func watch(fd: Int32, kind: BufferLifetimeKind, as identity: FileIdentity) throws(SmafErrno) {
        let path = "/proc/self/fd/\(fd)"
        let wd = kind == .inode ? smaf_sys_inotify_watch_deletion(inotifyFD, path)
                                : smaf_sys_inotify_watch_last_close(inotifyFD, path)
        guard wd >= 0 else {
            let e = errno
            if e == ENOSPC { scarceUntil.store(monotonicMilliseconds() + 1000, ordering: .relaxed) }
            logger.warning("cannot watch a new buffer (\(String(cString: strerror(e)))); raise fs.inotify.max_user_watches")
            throw e == ENOSPC ? .ENOSPC : .ENOMEM
        }
        watches.withLock { $0[wd] = (identity, kind) }
    }

    /// Whether a new buffer should be watched before CREATE replies, so that
    /// running out of watches is the caller's ENOSPC rather than a buffer
    /// smafd cannot follow: near fs.inotify.max_user_watches, or within a
    /// second of a watch that could not be added.
    public var watchesAreScarce: Bool {
        let now = monotonicMilliseconds()
        if scarceUntil.load(ordering: .relaxed) > now { return true }
        let limit = watchLimit.withLock { c -> Int in
            if c.until <= now {
                c.limit = readSmallFile("/proc/sys/fs/inotify/max_user_watches").flatMap { firstNumber(in: $0) }.map { Int($0) } ?? 0
                c.until = now + 1000
            }
            return c.limit
        }
        return watches.withLock { $0.count } + Self.watchMargin >= limit
    }
    /// Watches kept free for other inotify users of smafd's uid.
    static let watchMargin = 64

    /// The second half: the watched file is now a live buffer. Called before
    /// smafd lets go of its fd, so the record always precedes the watch firing.
    /// EMFILE/ENOMEM if the owner is at a limit (nothing is recorded then).
    public func record(_ record: BufferRecord, for identity: FileIdentity, within limits: Limits = .unlimited) throws(SmafErrno) {
        if let e = table.insert(record, for: identity, within: limits) { throw e }
        created.add(1, ordering: .relaxed)
    }

    /// Forgets a buffer whose handoff failed; its watch dies with the inode.
    public func forget(_ identity: FileIdentity) {
        if let q = table.remove(identity)?.quota { quotas?.release(q) }
    }

    /// Reads pending inotify events (one read; the event loop is told again
    /// while more are queued) and drops the records of buffers that are
    /// gone. After the kernel dropped events (IN_Q_OVERFLOW), the watches it
    /// still has are compared with ours: every one missing has ended.
    /// Returns how many events were read.
    @discardableResult
    public func drain() -> Int {
        var overflow: Int32 = 0
        let n = smaf_sys_inotify_drain(inotifyFD, { wd, ctx in
            Unmanaged<BufferLifetime>.fromOpaque(ctx!).takeUnretainedValue().ended(wd)
        }, Unmanaged.passUnretained(self).toOpaque(), &overflow)
        if overflow != 0 { rescan() }
        return Int(max(n, 0))
    }

    /// The watch `wd` reported its buffer gone.
    private func ended(_ wd: Int32) {
        guard let watch = watches.withLock({ $0.removeValue(forKey: wd) }) else { return }
        if let q = table.remove(watch.identity)?.quota { quotas?.release(q) }
    }

    /// After lost events: ends every buffer whose watch the kernel no longer
    /// has. A memfd's watch goes with its inode; a last-close watch is
    /// one-shot, removed with its close event even when the event itself
    /// was dropped.
    public func rescan() {
        final class Seen { var wds = Set<Int32>() }
        let seen = Seen()
        let n = smaf_sys_inotify_each_watch(inotifyFD, { wd, ctx in
            Unmanaged<Seen>.fromOpaque(ctx!).takeUnretainedValue().wds.insert(wd)
        }, Unmanaged.passUnretained(seen).toOpaque())
        guard n >= 0 else {
            logger.error("inotify dropped events and its watch list cannot be read: buffers that ended meanwhile stay counted")
            return
        }
        let gone = watches.withLock { w in w.keys.filter { !seen.wds.contains($0) } }
        logger.warning("inotify dropped events (its queue overflowed): \(gone.count) ended buffers found by re-scanning \(n) watches")
        rescans.add(1, ordering: .relaxed)
        for wd in gone { ended(wd) }
    }

    /// Times the event queue overflowed and the watches were re-scanned.
    public var rescanCount: UInt64 { rescans.load(ordering: .relaxed) }
}
