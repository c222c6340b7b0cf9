// SPDX-License-Identifier: MIT
import SmafABI
import Logging
import SmafCore
import Synchronization

// Shared by the test targets: fakes and builders for SmafCore's types.

/// A caller environment with a scripted fd table, so dispatcher tests need no /proc.
public final class FakeEnvironment: CallerEnvironment {
    public let fds = Mutex([Int32: FileIdentity]())
    /// fds that are memfds named like smafd's buffers (an earlier instance's).
    public let smafLookalikes = Mutex(Set<Int32>())
    let threadToProcess: [Int32: Int32]
    public init(threadToProcess: [Int32: Int32] = [:]) { self.threadToProcess = threadToProcess }
    public func fileIdentity(ofFD fd: Int32, inThread tid: Int32) -> FileIdentity? { fds.withLock { $0[fd] } }
    public func processID(ofThread tid: Int32) -> Int32? { threadToProcess[tid] }
    public func looksLikeSmafBuffer(fd: Int32, inThread tid: Int32) -> Bool { smafLookalikes.withLock { $0.contains(fd) } }
}

/// Collects log lines so tests can check what the daemon tells operators.
public final class CapturedLogs: Sendable {
    let lines = Mutex([(Logger.Level, String)]())
    public init() {}
    public func messages(at level: Logger.Level) -> [String] { lines.withLock { $0.filter { $0.0 == level }.map(\.1) } }
    /// Whether any line, at any level, contains `text`.
    public func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.1.contains(text) } } }
    public var logger: Logger {
        Logger(label: "test") { _ in Handler(sink: self) }
    }
    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.lines.withLock { $0.append((event.level, "\(event.message)")) }
        }
    }
}

/// An allocator with any name, ranking and declared properties, whose
/// buffers are memfds.
public struct NamedAllocator: Allocator {
    public let name: String
    public let ranking: Int32
    public var properties: AllocatorProperties
    public init(name: String, ranking: Int32, properties: AllocatorProperties? = nil) {
        self.name = name
        self.ranking = ranking
        var p = MemfdAllocator().properties
        p.backing = "test"
        self.properties = properties ?? p
    }
    /// Declared as a dma-buf exporter with these traits.
    public static func dmabuf(_ name: String, ranking: Int32, contiguous: Bool = false, maxSize: UInt64 = 1 << 30,
                              addressBits: Int = 36, alignment: UInt64 = 4096) -> NamedAllocator {
        NamedAllocator(name: name, ranking: ranking, properties: AllocatorProperties(
            dmabuf: true, contiguous: contiguous, lazy: false, maxSize: maxSize, readOnly: true, writeSealable: false,
            lifetime: .inode, addressBits: addressBits, alignment: alignment, backing: "test dma-buf"))
    }
    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD { try MemfdAllocator().allocate(request) }
}

public let caller = Caller(tid: 4242, uid: 1000, gid: 1000)

public func createData(length: UInt64 = 16384, flags: UInt32 = SmafABI.flagRDWR | SmafABI.flagCLOEXEC, name: String = "") -> SmafCreateData {
    var d = SmafCreateData()
    d.length = length
    d.flags = flags
    d.fd = -7
    d.name = FixedBytes(cString: name)
    return d
}
