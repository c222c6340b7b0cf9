// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Memfds made ahead of time, off the request path: created, identified and
/// watched by the event loop thread, so a CREATE only has to size and seal
/// one (the benchmark's CREATE cycle is dominated by syscalls). A pooled
/// memfd has no record, so it is not a buffer until it is taken; when the
/// pool is empty CREATE makes its memfd itself, as before.
public final class MemfdPool: Sendable {

    /// The pooled memfds; every one still here is closed with the stack.
    private struct Stack: ~Copyable {
        private var fds: [(Int32, FileIdentity)] = []
        var count: Int { fds.count }
        /// Takes over `fd` (an OwnedFD given up with take()).
        mutating func push(_ fd: Int32, _ identity: FileIdentity) { fds.append((fd, identity)) }
        mutating func pop() -> PreparedBuffer? {
            guard let (fd, identity) = fds.popLast() else { return nil }
            return PreparedBuffer(fd: OwnedFD(fd), identity: identity)
        }
        mutating func closeAll() {
            for (fd, _) in fds { _ = OwnedFD(fd) }
            fds.removeAll()
        }
        deinit { for (fd, _) in fds { _ = OwnedFD(fd) } }
    }

    private let lifetime: BufferLifetime
    private let slots = Mutex(Stack())
    /// How many to keep ready, and when to ask for more.
    public let capacity: Int
    let lowWater: Int
    /// Called (cheaply, rarely) when the pool runs low: wakes the filler.
    private let wake = LateCallback<Void, Void>()

    public init(lifetime: BufferLifetime, capacity: Int = 32) {
        self.lifetime = lifetime
        self.capacity = capacity
        self.lowWater = capacity / 4
    }

    public var count: Int { slots.withLock { $0.count } }

    func onLow(_ body: @escaping @Sendable () -> Void) { wake.set { _ in body() } }

    /// One ready memfd (unsized, unsealed, watched), or nil if none is ready.
    public func take() -> PreparedBuffer? {
        var left = 0
        let p = slots.withLock { s -> PreparedBuffer? in
            let p = s.pop()
            left = s.count
            return p
        }
        if left == lowWater { _ = wake(()) }
        return p
    }

    /// Tops the pool up in one batch once it is down to its low-water mark
    /// (the event loop asks after every wake-up; most find it full enough).
    public func refillIfLow() {
        if count <= lowWater { refill() }
    }

    /// Tops the pool up; stops early when memfds or watches run out, leaving
    /// those limits to be met (and reported) by CREATE itself.
    public func refill() {
        while count < capacity {
            let raw = smaf_sys_memfd(smafBufferMemfdName)
            guard raw >= 0 else { return }
            let fd = OwnedFD(raw)
            guard let identity = try? lifetime.watch(fd: fd.raw) else { return }
            let owned = fd.take()  // the stack owns it from here
            slots.withLock { $0.push(owned, identity) }
        }
    }

    /// Closes every pooled memfd (at shutdown).
    public func close() {
        slots.withLock { $0.closeAll() }
    }
}
