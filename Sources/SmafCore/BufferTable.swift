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

/// Live buffers by file identity; O(1) lookups under one lock.
public final class BufferTable: Sendable {
    private let records = Mutex([FileIdentity: BufferRecord]())

    public init() {}

    public var count: Int { records.withLock { $0.count } }

    public func insert(_ record: BufferRecord, for identity: FileIdentity) {
        records.withLock { $0[identity] = record }
    }

    @discardableResult
    public func remove(_ identity: FileIdentity) -> BufferRecord? {
        records.withLock { $0.removeValue(forKey: identity) }
    }

    public func record(for identity: FileIdentity) -> BufferRecord? {
        records.withLock { $0[identity] }
    }

    /// Runs `body` on the record under the table lock; nil if there is none.
    public func update<R>(_ identity: FileIdentity, _ body: (inout BufferRecord) -> R) -> R? {
        records.withLock { table -> R? in
            guard var record = table[identity] else { return nil }
            let result = body(&record)
            table[identity] = record
            return result
        }
    }
}
