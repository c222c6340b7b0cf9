// SPDX-License-Identifier: MIT
import SmafABI

#if canImport(Glibc)
import Glibc
#endif

/// What a request leaves to do once its reply is out: after a CREATE,
/// smafd's own descriptors of the new buffer, to be watched (unless the
/// buffer came from the memfd pool, watched already) and then closed. The
/// caller does not wait for this bookkeeping; smafd's descriptors keep the
/// buffer alive until it is done, so its end cannot be missed. Empty for
/// every other request.
public struct AfterReply: ~Copyable {
    private var buffer: OwnedFD?
    private var readOnly: OwnedFD?
    private var watch: (identity: FileIdentity, kind: BufferLifetimeKind)?

    public init() {}

    mutating func keep(_ buffer: consuming OwnedFD, readOnly: consuming OwnedFD?,
                       watch: (identity: FileIdentity, kind: BufferLifetimeKind)?) {
        self.buffer = consume buffer
        self.readOnly = consume readOnly
        self.watch = watch
    }

    /// Watches the buffer, then closes smafd's descriptors (when self ends).
    /// A watch that fails (fs.inotify.max_user_watches reached) means its end
    /// would never be seen: the record is dropped now rather than kept
    /// forever, and the warning says so.
    consuming func run(_ lifetime: BufferLifetime?) {
        guard let watch, let lifetime else { return }
        let fd = buffer?.raw ?? -1
        do throws(SmafErrno) {
            try lifetime.watch(fd: fd, kind: watch.kind, as: watch.identity)
        } catch {
            lifetime.logger.warning("a buffer handed over could not be watched (\(error)): it is no longer counted")
            lifetime.forget(watch.identity)
        }
    }
}

extension SmafDevice {
    /// The bookkeeping a request left for after its reply.
    public func finish(_ after: consuming AfterReply) {
        after.run(lifetime)
    }

    /// Ends the buffers whose end inotify has reported but the event loop
    /// has not read yet (it reads in batches): before a limit refuses, and
    /// before counts are shown.
    func forgetEnded() { lifetime?.drain() }
}
