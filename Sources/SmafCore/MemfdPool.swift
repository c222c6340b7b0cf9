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
    public struct Prepared: Sendable {
        public let fd: Int32
        public let identity: FileIdentity
    }
    private let lifetime: BufferLifetime
    private let slots = Mutex([Prepared]())
    /// How many to keep ready, and when to ask for more.
    public let capacity: Int
    let lowWater: Int
    /// Called (cheaply, rarely) when the pool runs low: wakes the filler.
    private let wake = Mutex<(@Sendable () -> Void)?>(nil)

    public init(lifetime: BufferLifetime, capacity: Int = 32) {
        self.lifetime = lifetime
        self.capacity = capacity
        self.lowWater = capacity / 4
    }

    deinit { close() }

    public var count: Int { slots.withLock { $0.count } }

    func onLow(_ body: @escaping @Sendable () -> Void) { wake.withLock { $0 = body } }

    /// One ready memfd (unsized, unsealed, watched), or nil if none is ready.
    public func take() -> Prepared? {
        let (p, left) = slots.withLock { s in (s.popLast(), s.count) }
        if left == lowWater { wake.withLock { $0 }?() }
        return p
    }

    /// Tops the pool up; stops early when memfds or watches run out, leaving
    /// those limits to be met (and reported) by CREATE itself.
    public func refill() {
        while count < capacity {
            let fd = smaf_sys_memfd(smafBufferMemfdName)
            guard fd >= 0 else { return }
            guard let identity = try? lifetime.watch(fd: fd) else {
                Glibc.close(fd)
                return
            }
            slots.withLock { $0.append(Prepared(fd: fd, identity: identity)) }
        }
    }

    /// Closes every pooled memfd (at shutdown).
    public func close() {
        let all = slots.withLock { s -> [Prepared] in
            defer { s.removeAll() }
            return s
        }
        for p in all { Glibc.close(p.fd) }
    }
}
