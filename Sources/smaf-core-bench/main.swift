// SPDX-License-Identifier: MIT
import SmafABI
// smaf-core-bench: nanoseconds and heap allocations per decoded and
// dispatched request in the Swift core, natively, without CUSE or /proc
// (an in-memory caller environment), for each of the four v10 requests.
//   smaf-core-bench [--iterations N] [--json FILE]
import CMallocCounter
import CSmafSys
import Logging
import SmafCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Callers whose fd 3 is a recorded buffer; no syscalls.
struct InMemoryEnvironment: CallerEnvironment {
    let identity = FileIdentity(device: 1, inode: 1)
    func fileIdentity(ofFD fd: Int32, inThread tid: Int32) -> FileIdentity? { fd == 3 ? identity : nil }
    func processID(ofThread tid: Int32) -> Int32? { tid }
}

/// v with `decimals` digits after the point (no Foundation here).
func fixed(_ v: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = Int64((v * scale).rounded())
    let whole = String(n / Int64(scale))
    guard decimals > 0 else { return whole }
    let frac = String(abs(n) % Int64(scale))
    return whole + "." + String(repeating: "0", count: decimals - frac.count) + frac
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return right ? fill + s : s + fill
}

func nowNs() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

var iterations = 200_000
var jsonPath: String?
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--iterations": iterations = Int(args.popFirst() ?? "") ?? iterations
    case "--json": jsonPath = args.popFirst()
    default:
        print("usage: smaf-core-bench [--iterations N] [--json FILE]")
        exit(2)
    }
}

let registry = AllocatorRegistry()
try! registry.register(MemfdAllocator())
try! registry.register(AllocatorAlias(name: "smaf-cma", target: MemfdAllocator()))
let env = InMemoryEnvironment()
var logger = Logger(label: "bench")
logger.logLevel = .error  // refusals log at debug: off, as in production (and no once-per-process warning)
let device = SmafDevice(registry: registry, secureModule: TestSecureModule(), environment: env, logger: logger)
device.buffers.insert(BufferRecord(length: 4096, flags: 2, allocator: "smaf-memfd", ownerUID: 0), for: env.identity)
let caller = Caller(tid: 100, uid: 0, gid: 0)

var create = SmafCreateData()
create.length = 16384
create.flags = SmafABI.flagRDWR | SmafABI.flagCLOEXEC
create.name = FixedBytes(cString: "smaf-cma")
var secure = SmafSecureFlag()
secure.fd = 3
var setSecure = secure
setSecure.secure = 1
var info = SmafInfo()
info.index = 1

// CREATE runs every check, then stops at the handoff step (no channel): the
// allocation and delivery are syscalls, measured in the VM benchmark.
let cases: [(String, SmafRequest, [UInt8])] = [
    ("SMAF_IOC_CREATE (all checks, no channel)", .create, create.encoded),
    ("SMAF_IOC_GET_SECURE_FLAG", .getSecureFlag, secure.encoded),
    ("SMAF_IOC_SET_SECURE_FLAG", .setSecureFlag, setSecure.encoded),
    ("SMAF_IOC_GET_INFO", .getInfo, info.encoded),
]

// The counter must see allocations, or "0 allocations" would mean nothing.
let probe = smaf_malloc_count()
let heap = [Int](repeating: 1, count: 4096)
guard smaf_malloc_count() > probe, heap.count == 4096 else {
    print("smaf-core-bench: the malloc counter does not count; results would be meaningless")
    exit(1)
}
print("smaf-core-bench: \(iterations) iterations per request, in-memory caller environment")
print("request                                       ns/request  allocations/request")
var rows: [String] = []
var output = [UInt8](repeating: 0, count: 128)
for (name, req, input) in cases {
    var sink = 0
    input.withUnsafeBytes { inp in
        output.withUnsafeMutableBytes { out in
            for _ in 0..<1000 {  // warm up
                if case .success(let n) = device.ioctl(request: req.rawValue, input: inp, output: out, caller: caller) { sink &+= n }
            }
        }
    }
    let m0 = smaf_malloc_count()
    let t0 = nowNs()
    input.withUnsafeBytes { inp in
        output.withUnsafeMutableBytes { out in
            for _ in 0..<iterations {
                switch device.ioctl(request: req.rawValue, input: inp, output: out, caller: caller) {
                case .success(let n): sink &+= n
                case .failure(let e): sink &+= Int(e.rawValue)
                }
            }
        }
    }
    let ns = Double(nowNs() - t0) / Double(iterations)
    let allocs = Double(smaf_malloc_count() - m0) / Double(iterations)
    print(pad(name, 44) + pad(fixed(ns, 1), 11, right: true) + pad(fixed(allocs, 3), 21, right: true) + (sink == 42 ? " " : ""))
    rows.append("{\"request\": \"\(name)\", \"ns_per_request\": \(fixed(ns, 1)), \"allocations_per_request\": \(fixed(allocs, 4))}")
}

// The whole CREATE natively, as smafd runs it but for CUSE: a handoff channel
// (a socket pair adopted like SMAF_IOC_EXT_CONNECT does), the event loop,
// buffers made ahead, the fd sent, received and closed by this thread.
func rssKB() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmRSS:") { return Int(s.dropFirst(6).filter(\.isNumber)) ?? 0 }
    }
    return 0
}

let rounds = 5, roundSize = max(2000, iterations / 10)
/// The last round's cost per CREATE over the first's, and bytes of RSS per CREATE.
nonisolated(unsafe) var drift = (ratio: 0.0, bytesPerCreate: 0.0)

func benchFullCreate(named: String, iterations: Int, memfdPool: Bool = true) -> (ns: Double, allocs: Double)? {
    let dir = "/tmp/smaf-core-bench-\(getpid())"
    guard let lifetime = try? BufferLifetime(table: BufferTable(), logger: logger),
          let channels = try? HandoffChannels(directory: dir, name: "bench", logger: logger) else { return nil }
    let pool = memfdPool ? MemfdPool(lifetime: lifetime) : nil, exports = ExportPool(lifetime: lifetime, logger: logger)
    let events = EventLoop(channels: channels, lifetime: lifetime, pool: pool, exports: exports, logger: logger)
    defer { events.stop(); rmdir(dir) }
    guard (try? events.start()) != nil else { return nil }
    let r = AllocatorRegistry()
    try! r.register(MemfdAllocator())
    let d = SmafDevice(registry: r, secureModule: TestSecureModule(), handoff: channels, lifetime: lifetime, pool: pool,
                       exports: exports, environment: ProcFSEnvironment(), logger: logger)
    var pair: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0,
          channels.adopt(socket: OwnedFD(pair[1]), process: getpid(), uid: getuid()) == nil else { return nil }
    defer { close(pair[0]) }
    var buf = [UInt8](repeating: 0, count: 64)
    var welcomeFD: Int32 = -1
    _ = buf.withUnsafeMutableBytes { smaf_sys_recv_with_fd(pair[0], $0.baseAddress, $0.count, &welcomeFD, 0) }
    var c = SmafCreateData()
    c.length = 65536
    c.flags = SmafABI.flagRDWR | SmafABI.flagCLOEXEC
    c.name = FixedBytes(cString: named)
    let input = c.encoded
    var out = [UInt8](repeating: 0, count: 128)
    let me = Caller(tid: getpid(), uid: getuid(), gid: getgid())
    func once() {
        _ = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { d.ioctl(request: SmafRequest.create.rawValue, input: i, output: $0, caller: me) } }
        var fd: Int32 = -1
        _ = buf.withUnsafeMutableBytes { smaf_sys_recv_with_fd(pair[0], $0.baseAddress, $0.count, &fd, 0) }
        if fd >= 0 { close(fd) }
    }
    for _ in 0..<1000 { once() }
    // Rounds of CREATEs: a cost or a memory that grows with every CREATE
    // (a closure re-wrapped per call did once) shows as a drift here.
    var firstRound = 0.0, lastRound = 0.0
    let rss0 = rssKB()
    for round in 0..<rounds {
        let t = nowNs()
        for _ in 0..<roundSize { once() }
        let ns = Double(nowNs() - t) / Double(roundSize)
        if round == 0 { firstRound = ns }
        lastRound = ns
    }
    drift = (lastRound / firstRound, Double(rssKB() - rss0) * 1024 / Double(rounds * roundSize))
    let m0 = smaf_malloc_count(), t0 = nowNs()
    for _ in 0..<iterations { once() }
    return (Double(nowNs() - t0) / Double(iterations), Double(smaf_malloc_count() - m0) / Double(iterations))
}

for (name, memfdPool) in [("", true), ("smaf-memfd", false)] {
    if let (ns, allocs) = benchFullCreate(named: name, iterations: max(1000, iterations / 20), memfdPool: memfdPool) {
        let pool = memfdPool ? "MemfdPool" : "ExportPool"
        print(pad("CREATE from \(pool), sent, received, closed", 44) + pad(fixed(ns, 1), 11, right: true)
              + pad(fixed(allocs, 3), 21, right: true))
        let verdict = drift.ratio <= 1.2 && drift.bytesPerCreate < 64 ? "met" : "missed"
        print("  \(rounds) rounds of \(roundSize) CREATEs: last round / first \(fixed(drift.ratio, 2)), RSS growth \(fixed(drift.bytesPerCreate, 1)) B per CREATE (targets <= 1.2 and < 64 B: \(verdict))")
        rows.append("{\"request\": \"CREATE from \(pool)\", \"ns_per_request\": \(fixed(ns, 1)), \"allocations_per_request\": \(fixed(allocs, 4)), \"drift_ratio\": \(fixed(drift.ratio, 3)), \"rss_bytes_per_create\": \(fixed(drift.bytesPerCreate, 1))}")
    }
}

if let jsonPath {
    let text = "{\"iterations\": \(iterations), \"rows\": [\n  " + rows.joined(separator: ",\n  ") + "\n]}\n"
    let f = fopen(jsonPath, "w")
    fputs(text, f)
    fclose(f)
}
