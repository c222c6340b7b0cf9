// SPDX-License-Identifier: MIT
import SmafABI
import Synchronization

/// The identity of an open file, as stat(2) gives it: what a buffer fd in any
/// process resolves to, whatever its number there.
public struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    public let device: UInt64
    public let inode: UInt64
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
    public var description: String { "dev \(device) ino \(inode)" }
}

/// What smafd remembers about one live buffer. The memory itself is never
/// referenced from here (lifetime is the kernel's: docs/layout.md).
public struct BufferRecord: Sendable {
    public var length: UInt64
    public var flags: UInt32
    public var allocator: String
    public var ownerUID: UInt32
    public var secure: SecureContext?
    /// Made by a v2 CREATE and not bound yet: SELECT_BY_NAME may still pick
    /// its allocator.
    public var selectable = false
    /// The process that created it, when (CLOCK_MONOTONIC seconds) and its
    /// quota entry (QuotaLedger), for `smafctl buffers` and the release.
    public var ownerPID: Int32 = 0
    public var createdAt: UInt64 = 0
    public var quota: QuotaCharge?

    public init(length: UInt64, flags: UInt32, allocator: String, ownerUID: UInt32, secure: SecureContext? = nil) {
        self.length = length
        self.flags = flags
        self.allocator = allocator
        self.ownerUID = ownerUID
        self.secure = secure
    }
}

/// Totals over the live buffers, for the status request and the tests.
public struct BufferTotals: Sendable, Equatable {
    public var buffers: Int
    public var bytes: UInt64
    public var secure: Int
}

/// Live buffers by file identity; O(1) lookups under one lock.
public final class BufferTable: Sendable {
    private struct State {
        var records: [FileIdentity: BufferRecord] = [:]
        var bytes: UInt64 = 0
        /// Live buffers and bytes per owning uid, kept in step with records
        /// so a limit check is O(1).
        var perUID: [UInt32: (count: Int, bytes: UInt64)] = [:]

        // Wrapping arithmetic: the checked insert refuses anything that would
        // overflow a total, and a trap here would take the daemon down.
        mutating func add(_ r: BufferRecord) {
            bytes &+= r.length
            let old = perUID[r.ownerUID] ?? (0, 0)
            perUID[r.ownerUID] = (old.count &+ 1, old.bytes &+ r.length)
        }

        mutating func subtract(_ r: BufferRecord) {
            bytes &-= r.length
            guard let old = perUID[r.ownerUID] else { return }
            perUID[r.ownerUID] = old.count > 1 ? (old.count - 1, old.bytes &- r.length) : nil
        }
    }
    private let state = Mutex(State())

    public init() {}

    public var count: Int { state.withLock { $0.records.count } }

    public var totals: BufferTotals {
        state.withLock { s in
            BufferTotals(buffers: s.records.count, bytes: s.bytes,
                         secure: s.records.values.reduce(0) { $0 + ($1.secure == nil ? 0 : 1) })
        }
    }

    /// Live buffers and bytes per owning uid, by uid.
    public var totalsByUID: [(uid: UInt32, buffers: Int, bytes: UInt64)] {
        let perUID = state.withLock { $0.perUID }
        return perUID.keys.sorted().map { (uid: $0, buffers: perUID[$0]!.count, bytes: perUID[$0]!.bytes) }
    }

    public func insert(_ record: BufferRecord, for identity: FileIdentity) {
        state.withLock { s in
            if let old = s.records.updateValue(record, forKey: identity) { s.subtract(old) }
            s.add(record)
        }
    }

    /// The errno `insert(_:for:within:)` would give a buffer of `length`
    /// bytes owned by `uid` now (nil: it would fit). A cheap look before an
    /// allocation that commits memory; the insert itself decides.
    public func wouldExceed(uid: UInt32, length: UInt64, within limits: Limits) -> SmafErrno? {
        state.withLock { s -> SmafErrno? in
            let mine = s.perUID[uid] ?? (0, 0)
            if mine.count >= limits.maxBuffersPerUser { return .EMFILE }
            let (total, overflow) = mine.bytes.addingReportingOverflow(length)
            return overflow || total > limits.maxBytesPerUser ? .ENOMEM : nil
        }
    }

    /// Inserts unless the owner would exceed `limits`: the check and the
    /// insert are one step, so concurrent CREATEs cannot overshoot.
    /// EMFILE: too many buffers; ENOMEM: too many bytes, for the user or for
    /// the daemon's 64-bit total (reachable only with raised limits).
    public func insert(_ record: BufferRecord, for identity: FileIdentity, within limits: Limits) -> SmafErrno? {
        state.withLock { s -> SmafErrno? in
            let mine = s.perUID[record.ownerUID] ?? (0, 0)
            if mine.count >= limits.maxBuffersPerUser { return .EMFILE }
            let (total, overflow) = mine.bytes.addingReportingOverflow(record.length)
            if overflow || total > limits.maxBytesPerUser { return .ENOMEM }
            if s.bytes.addingReportingOverflow(record.length).overflow { return .ENOMEM }
            if let old = s.records.updateValue(record, forKey: identity) { s.subtract(old) }
            s.add(record)
            return nil
        }
    }

    @discardableResult
    public func remove(_ identity: FileIdentity) -> BufferRecord? {
        state.withLock { s in
            let old = s.records.removeValue(forKey: identity)
            if let old { s.subtract(old) }
            return old
        }
    }

    /// Every live buffer (for `smafctl buffers`).
    public var all: [(identity: FileIdentity, record: BufferRecord)] {
        state.withLock { $0.records.map { (identity: $0.key, record: $0.value) } }
    }

    public func record(for identity: FileIdentity) -> BufferRecord? {
        state.withLock { $0.records[identity] }
    }

    /// Runs `body` on the record under the table lock; nil if there is none.
    /// The length must not change.
    public func update<R>(_ identity: FileIdentity, _ body: (inout BufferRecord) -> R) -> R? {
        state.withLock { s -> R? in
            guard var record = s.records[identity] else { return nil }
            let result = body(&record)
            s.records[identity] = record
            return result
        }
    }
}
