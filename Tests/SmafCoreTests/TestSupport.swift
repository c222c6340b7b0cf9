import Logging
import SmafCore
import Synchronization

/// A caller environment with a scripted fd table, so dispatcher tests need no /proc.
final class FakeEnvironment: CallerEnvironment {
    let fds = Mutex([Int32: FileIdentity]())
    let threadToProcess: [Int32: Int32]
    init(threadToProcess: [Int32: Int32] = [:]) { self.threadToProcess = threadToProcess }
    func fileIdentity(ofFD fd: Int32, inThread tid: Int32) -> FileIdentity? { fds.withLock { $0[fd] } }
    func processID(ofThread tid: Int32) -> Int32? { threadToProcess[tid] }
}

/// Collects log lines so tests can check what the daemon tells operators.
final class CapturedLogs: Sendable {
    let lines = Mutex([(Logger.Level, String)]())
    func messages(at level: Logger.Level) -> [String] { lines.withLock { $0.filter { $0.0 == level }.map(\.1) } }
    var logger: Logger {
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

struct NamedAllocator: Allocator {
    let name: String
    let ranking: Int32
    var backing: String { "test" }
}

let caller = Caller(tid: 4242, uid: 1000, gid: 1000)

func createData(length: UInt64 = 16384, flags: UInt32 = SmafABI.flagRDWR | SmafABI.flagCLOEXEC, name: String = "") -> SmafCreateData {
    var d = SmafCreateData()
    d.length = length
    d.flags = flags
    d.fd = -7
    d.name = FixedBytes(cString: name)
    return d
}
