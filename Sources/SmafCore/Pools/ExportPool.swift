// SPDX-License-Identifier: MIT
import SmafABI
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Buffers exported ahead of time, off the request path, for the (allocator,
/// size) pairs CREATE is asked for: a CREATE that finds one ready only
/// names it, records it and sends it, instead of waiting for the exporter.
///
/// - A pair becomes a shelf at its first miss (that CREATE exports as
///   before); the event loop then fills the shelf to `depth` in one batch,
///   and again whenever a take leaves it at half (one wake-up per depth/2
///   CREATEs).
/// - Each buffer is made by the allocator's own allocate(), identified and
///   inotify-watched when made, and handed out once: never re-used. A
///   buffer still on a shelf has no record, so it is not a live buffer.
/// - Read-only requests, contiguous allocators (CMA heaps, hugetlb pages:
///   scarce memory) and sizes above `largest` are never pooled.
/// - Eager allocators' shelved bytes stay within `budget` (they are taken
///   from the memory every process shares); lazy allocators' shelved
///   buffers hold no pages. At most `shelves` pairs are kept: a new pair
///   evicts the one used longest ago, whose buffers are closed.
public final class ExportPool: Sendable {
    struct Key: Hashable { let allocator: String, length: UInt64 }

    private struct Shelf {
        let allocator: any Allocator
        /// Raw fds owned by the pool (closed when taken out of it otherwise).
        var ready: [(fd: Int32, identity: FileIdentity)] = []
        var lastUsed: UInt64 = 0
        var eager: Bool { !allocator.properties.lazy }
    }

    private struct State {
        var shelves: [Key: Shelf] = [:]
        var eagerBytes: UInt64 = 0
        var tick: UInt64 = 0
        var wanted = false
        var closed = false
    }

    private let lifetime: BufferLifetime
    private let state = Mutex(State())
    private let wake = LateCallback<Void, Void>()
    private let logger: Logger
    public let depth: Int
    public let budget: UInt64
    public let largest: UInt64
    public let shelves: Int
    private let hits = Atomic<UInt64>(0), misses = Atomic<UInt64>(0), made = Atomic<UInt64>(0)

    /// Defaults: 8 buffers a pair, 8 pairs, buffers up to 16 MiB, eager
    /// bytes up to 1/64 of RAM (at most 128 MiB).
    public init(lifetime: BufferLifetime, depth: Int = 8, shelves: Int = 8, largest: UInt64 = 16 << 20,
                budget: UInt64 = min(128 << 20, Limits.physicalMemory / 64), logger: Logger) {
        self.lifetime = lifetime
        self.depth = max(1, depth)
        self.shelves = max(1, shelves)
        self.largest = largest
        self.budget = budget
        self.logger = logger
    }

    func onLow(_ body: @escaping @Sendable () -> Void) { wake.set { _ in body() } }

    /// Whether buffers of `allocator` of `length` bytes may be pooled at all.
    public func pools(_ allocator: any Allocator, length: UInt64, readWrite: Bool) -> Bool {
        let p = allocator.properties
        return readWrite && !p.contiguous && length <= largest && (p.lazy || length <= budget / UInt64(depth))
    }

    /// Served from the pool (hits) and made on the request path (misses), and made ahead.
    public var counts: (hits: UInt64, misses: UInt64, made: UInt64) {
        (hits.load(ordering: .relaxed), misses.load(ordering: .relaxed), made.load(ordering: .relaxed))
    }

    /// Buffers on the shelves, and the eager allocators' bytes among them.
    public var shelved: (buffers: Int, eagerBytes: UInt64) {
        state.withLock { s in (s.shelves.values.reduce(0) { $0 + $1.ready.count }, s.eagerBytes) }
    }

    /// A ready buffer of `allocator` and exactly `length` bytes, or nil (a
    /// miss, which teaches the pool the pair).
    public func take(_ allocator: any Allocator, length: UInt64) -> PreparedBuffer? {
        let key = Key(allocator: allocator.name, length: length)
        let (taken, ring) = state.withLock { s -> ((Int32, FileIdentity)?, Bool) in
            guard !s.closed else { return (nil, false) }
            s.tick += 1
            if var shelf = s.shelves[key] {
                shelf.lastUsed = s.tick
                let item = shelf.ready.popLast()
                if item != nil, shelf.eager { s.eagerBytes -= length }
                let low = shelf.ready.count <= depth / 2
                s.shelves[key] = shelf
                let ring = low && !s.wanted
                if low { s.wanted = true }
                return (item, ring)
            }
            if s.shelves.count >= shelves, let oldest = s.shelves.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                Self.empty(oldest.value, length: oldest.key.length, in: &s)
                s.shelves[oldest.key] = nil
            }
            s.shelves[key] = Shelf(allocator: allocator, lastUsed: s.tick)
            let ring = !s.wanted
            s.wanted = true
            return (nil, ring)
        }
        if ring { _ = wake(()) }
        guard let (fd, identity) = taken else {
            misses.add(1, ordering: .relaxed)
            return nil
        }
        hits.add(1, ordering: .relaxed)
        return PreparedBuffer(fd: OwnedFD(fd), identity: identity)
    }

    /// Fills every shelf below `depth` (the event loop, after a wake-up).
    /// Exports outside the lock; stops a shelf at the first failure (its
    /// limit will be met, and reported, by CREATE itself).
    public func refill() {
        guard let work = state.withLock({ s -> [(Key, any Allocator, Int)]? in
            guard s.wanted, !s.closed else { return nil }
            s.wanted = false
            return s.shelves.compactMap { k, v in v.ready.count < depth ? (k, v.allocator, depth - v.ready.count) : nil }
        }) else { return }
        for (key, allocator, count) in work {
            for _ in 0..<count {
                let eager = !allocator.properties.lazy
                guard !eager || state.withLock({ $0.eagerBytes + key.length <= budget }) else { break }
                guard let (fd, identity) = make(allocator, key) else { break }
                let kept = state.withLock { s -> Bool in
                    guard !s.closed, s.shelves[key] != nil else { return false }
                    s.shelves[key]!.ready.append((fd, identity))
                    if eager { s.eagerBytes += key.length }
                    return true
                }
                if !kept { _ = OwnedFD(fd); break }
                made.add(1, ordering: .relaxed)
            }
        }
    }

    private func make(_ allocator: any Allocator, _ key: Key) -> (Int32, FileIdentity)? {
        do throws(AllocationFailure) {
            let fd = try allocator.allocate(AllocationRequest(length: key.length))
            guard let identity = try? lifetime.watch(fd: fd.raw, kind: allocator.properties.lifetime) else { return nil }
            return (fd.take(), identity)
        } catch {
            logger.debug("pool: \(allocator.name) could not make a \(key.length)-byte buffer ahead: \(error.reason)")
            return nil
        }
    }

    private static func empty(_ shelf: Shelf, length: UInt64, in s: inout State) {
        for (fd, _) in shelf.ready { _ = OwnedFD(fd) }
        if shelf.eager { s.eagerBytes -= UInt64(shelf.ready.count) * length }
    }

    /// Closes every shelved buffer (at shutdown); takes find nothing after.
    public func close() {
        state.withLock { s in
            for (k, v) in s.shelves { Self.empty(v, length: k.length, in: &s) }
            s.shelves.removeAll()
            s.closed = true
        }
    }

    deinit { close() }
}
