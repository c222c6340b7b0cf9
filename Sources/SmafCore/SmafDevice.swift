// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The /dev/smaf device without any transport: request number + struct
/// bytes + caller in, reply bytes or an errno out. Like the kernel's
/// dma-heap ioctl: look the request up in one table, check its size,
/// decode it once into a typed call, run its operation (Operations/, one
/// per file) and encode the typed reply once. The checks follow the v10
/// driver in their order, with the safer choices docs/differences.md lists.
public final class SmafDevice: Sendable {
    public let registry: AllocatorRegistry
    public let secureModule: (any SecureModule)?
    public let buffers: BufferTable
    public let pageSize: UInt64
    /// Where buffers go (nil: no caller can receive one, CREATE is ENOTCONN).
    public let handoff: HandoffChannels?
    /// Tracks buffers until the kernel frees them (required with `handoff`).
    public let lifetime: BufferLifetime?
    /// Memfds prepared ahead of time (optional; see MemfdPool).
    public let pool: MemfdPool?
    /// Buffers exported ahead of time (optional; see ExportPool).
    public let exports: ExportPool?
    /// Per-user and per-buffer bounds on CREATE.
    public let limits: Limits
    /// What eager allocators must leave free.
    let headroom = MemoryHeadroom()
    /// The node this device is served as, for operators ("/dev/smaf").
    public let devicePath: String
    /// The ABI generations whose request numbers are served (v10 always).
    public let generations: AbiGenerations
    let environment: any CallerEnvironment
    /// Callers' cgroups, for their quota entries.
    let cgroups = CgroupCache()
    /// What devices that will use a buffer need (SMAF_IOC_EXT_CREATE_FOR).
    let deviceFacts: any DeviceFactSource
    /// Said once: udev has no data, so only sysfs facts are known.
    let warnedNoUdev = Atomic(false)
    let nextToken = Atomic<UInt32>(0)
    let counters = Mutex(RequestCounters())
    let logger: Logger
    /// Processes already told (at warning level) that they have no handoff
    /// channel; bounded so a pid churn cannot grow it without limit.
    let warnedNoChannel = Mutex(Set<Int32>())
    static let warnedNoChannelLimit = 4096

    public init(
        registry: AllocatorRegistry,
        secureModule: (any SecureModule)?,
        buffers: BufferTable = BufferTable(),
        handoff: HandoffChannels? = nil,
        lifetime: BufferLifetime? = nil,
        pool: MemfdPool? = nil,
        exports: ExportPool? = nil,
        limits: Limits = .defaults,
        environment: any CallerEnvironment = ProcFSEnvironment(),
        deviceFacts: any DeviceFactSource = DeviceFactCache(),
        pageSize: UInt64 = UInt64(sysconf(Int32(_SC_PAGESIZE))),
        devicePath: String = "/dev/smaf",
        generations: AbiGenerations = .default,
        logger: Logger
    ) {
        self.devicePath = devicePath
        self.generations = generations.union(.v10)
        self.registry = registry
        self.secureModule = secureModule
        self.buffers = lifetime?.table ?? buffers
        self.handoff = handoff
        self.lifetime = lifetime
        self.pool = pool
        self.exports = exports
        self.limits = limits
        self.environment = environment
        self.deviceFacts = deviceFacts
        self.pageSize = pageSize
        self.logger = logger
    }

    /// Handles one ioctl. On success returns how many bytes of `output` to
    /// send back (the kernel copies them to the caller's struct); on failure
    /// nothing is copied back, as in the driver.
    /// Leaves what can wait for the reply in `after`: run `finish(after)`
    /// once the reply is sent.
    public func ioctl(
        request: UInt32, input: UnsafeRawBufferPointer,
        output: UnsafeMutableRawBufferPointer, caller: Caller, after: inout AfterReply
    ) -> Result<Int, SmafErrno> {
        guard let d = RequestDescriptor.lookup(request) else {
            counters.withLock { $0.countUnknown() }
            return .failure(refuse(.EINVAL, RequestContext(number: request, caller: caller), "unknown request"))
        }
        counters.withLock { $0.count(d) }
        let rc = RequestContext(d, caller)
        if d.isLegacy, generations.isDisjoint(with: d.generations) {
            return .failure(refuse(.EINVAL, rc, "legacy request (\(d.description)) is not enabled: smafd --abi-generations \(d.generationNames) serves it"))
        }
        // The driver tests for a secure module before it even reads the struct.
        if d.layout.kind == .setSecureFlag, secureModule == nil {
            return .failure(refuse(.EINVAL, rc, "no secure module is loaded (--secure-module none)"))
        }
        // The kernel derives both sizes from the request number; anything else
        // did not come from a well-behaved kernel, so never index past it.
        guard input.count == d.size, output.count >= d.size else {
            return .failure(refuse(.EINVAL, rc, "argument is \(input.count) bytes in, \(output.count) out; expected \(d.size)"))
        }
        let call: SmafCall
        switch d.decode(input) {
        case .success(let c): call = c
        case .failure(let r): return .failure(refuse(r.errno, rc, r.reason))
        }
        return perform(call, rc, &after).map { d.encode($0, echoing: input, into: output) }
    }

    /// `ioctl(request:input:output:caller:after:)` with its bookkeeping done
    /// before it returns.
    public func ioctl(
        request: UInt32, input: UnsafeRawBufferPointer,
        output: UnsafeMutableRawBufferPointer, caller: Caller
    ) -> Result<Int, SmafErrno> {
        var after = AfterReply()
        let r = ioctl(request: request, input: input, output: output, caller: caller, after: &after)
        finish(after)
        return r
    }


    /// Runs the operation of one decoded call.
    private func perform(_ call: SmafCall, _ rc: RequestContext, _ after: inout AfterReply) -> Result<SmafReply, SmafErrno> {
        switch call {
        case .create(let a):
            // A v2 CREATE's allocator may still change (SELECT_BY_NAME).
            return create(a, selectable: rc.descriptor?.generations == .v2, rc, after: &after).map { .created(token: $0) }
        case .getSecureFlag(let a): return getSecureFlag(a, rc).map { .secureFlag($0) }
        case .setSecureFlag(let a): return setSecureFlag(a, rc).map { .nothing }
        case .getInfo(let a): return getInfo(a, rc).map { .info(count: $0.count, name: $0.name) }
        case let .selectByName(fd, name): return selectByName(fd: fd, name: name, rc, after: &after).map { .selected(token: $0) }
        case let .createFor(a, devices):
            return resolveDevices(devices, rc).flatMap { create(a, constraints: $0, rc, after: &after) }.map { .created(token: $0) }
        case let .devices(length, devices): return resolveDevices(devices, rc).map { .devices(answer(length: length, $0)) }
        case .connect(let sock): return connect(sock: sock, rc).map { .connected(protocolVersion: HandoffProtocol.version) }
        case .handoff: return handoffSocket(rc)
        case .status: return .success(.status(self.statusAnswer))
        }
    }

    /// Convenience for tests and tools: bytes in, bytes out.
    public func ioctl(request: UInt32, input: [UInt8], caller: Caller) -> Result<[UInt8], SmafErrno> {
        var out = [UInt8](repeating: 0, count: RequestDescriptor.lookup(request)?.size ?? input.count)
        let r = input.withUnsafeBytes { inp in
            out.withUnsafeMutableBytes { ioctl(request: request, input: inp, output: $0, caller: caller) }
        }
        return r.map { Array(out[0..<$0]) }
    }

    /// The buffer size for a requested length, or nil if rounding overflows or
    /// the size cannot be an off_t.
    public func roundedLength(_ length: UInt64) -> UInt64? {
        let (sum, overflow) = length.addingReportingOverflow(pageSize - 1)
        guard !overflow else { return nil }
        let rounded = sum & ~(pageSize - 1)
        return rounded <= UInt64(Int64.max) ? rounded : nil
    }

    /// Counts and logs (at debug level, with the reason) one refusal.
    func refuse(_ errno: SmafErrno, _ rc: RequestContext, _ reason: @autoclosure () -> String) -> SmafErrno {
        counters.withLock { $0.refusals[errno.rawValue, default: 0] += 1 }
        let c = rc.caller
        logger.debug("refused \(rc.descriptor?.name ?? "request") 0x\(String(rc.number, radix: 16, uppercase: true)) from tid \(c.tid)\(c.compat ? " (32-bit)" : "") uid \(c.uid) with \(errno): \(reason())")
        return errno
    }
}

/// Which request an operation serves, for whom: what a refusal logs.
struct RequestContext {
    let number: UInt32
    let descriptor: RequestDescriptor?
    let caller: Caller
    init(_ d: RequestDescriptor, _ caller: Caller) {
        number = d.number
        descriptor = d
        self.caller = caller
    }
    init(number: UInt32, caller: Caller) {
        self.number = number
        descriptor = nil
        self.caller = caller
    }
}
