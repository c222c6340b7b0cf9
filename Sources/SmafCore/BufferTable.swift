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
/// referenced from here (spec 3.1, design §2: lifetime is the kernel's).
public struct BufferRecord: Sendable {
    public var length: UInt64
    public var flags: UInt32
    public var allocator: String
    public var ownerUID: UInt32
    public var secure: SecureContext?

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
        let grouped: [UInt32: (Int, UInt64)] = state.withLock { s in
            var g: [UInt32: (Int, UInt64)] = [:]
            for r in s.records.values {
                let old = g[r.ownerUID] ?? (0, 0)
                g[r.ownerUID] = (old.0 + 1, old.1 + r.length)
            }
            return g
        }
        return grouped.keys.sorted().map { (uid: $0, buffers: grouped[$0]!.0, bytes: grouped[$0]!.1) }
    }

    public func insert(_ record: BufferRecord, for identity: FileIdentity) {
        state.withLock { s in
            if let old = s.records.updateValue(record, forKey: identity) { s.bytes -= old.length }
            s.bytes += record.length
        }
    }

    @discardableResult
    public func remove(_ identity: FileIdentity) -> BufferRecord? {
        state.withLock { s in
            let old = s.records.removeValue(forKey: identity)
            if let old { s.bytes -= old.length }
            return old
        }
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
