// SPDX-License-Identifier: MIT
import CSmafSys
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The /dev/smaf device without any transport: request number + input bytes
/// + caller in, output bytes or an errno out. It follows the v10 driver's
/// checks in their order (spec §3.3-§3.7), with the safer choices of §5.
public final class SmafDevice: Sendable {
    public let registry: AllocatorRegistry
    public let secureModule: (any SecureModule)?
    public let buffers: BufferTable
    public let pageSize: UInt64
    /// Where buffers go (nil: no caller can receive one, CREATE is ENOTCONN).
    public let handoff: HandoffServer?
    /// Tracks buffers until the kernel frees them (required with `handoff`).
    public let lifetime: BufferLifetime?
    /// Memfds prepared ahead of time (optional; see MemfdPool).
    public let pool: MemfdPool?
    /// Per-user and per-buffer bounds on CREATE.
    public let limits: Limits
    /// What eager allocators must leave free.
    let headroom = MemoryHeadroom()
    /// The node this device is served as, for operators ("/dev/smaf").
    public let devicePath: String
    /// The ABI generations whose request numbers are served (v10 always).
    public let generations: AbiGenerations
    let environment: any CallerEnvironment
    /// What devices that will use a buffer need (SMAF_IOC_EXT_CREATE_FOR).
    let deviceFacts: any DeviceFactSource
    /// Said once: udev has no data, so only sysfs facts are known.
    private let warnedNoUdev = Atomic(false)
    private let nextToken = Atomic<UInt32>(0)
    private let counters = Mutex(RequestCounters())
    let logger: Logger
    /// Processes already told (at warning level) that they have no handoff
    /// channel; bounded so a pid churn cannot grow it without limit.
    private let warnedNoChannel = Mutex(Set<Int32>())
    static let warnedNoChannelLimit = 4096

    public init(
        registry: AllocatorRegistry,
        secureModule: (any SecureModule)?,
        buffers: BufferTable = BufferTable(),
        handoff: HandoffServer? = nil,
        lifetime: BufferLifetime? = nil,
        pool: MemfdPool? = nil,
        limits: Limits = .defaults,
        environment: any CallerEnvironment = ProcFSEnvironment(),
        deviceFacts: any DeviceFactSource = SystemDeviceFacts(),
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
        self.limits = limits
        self.environment = environment
        self.deviceFacts = deviceFacts
        self.pageSize = pageSize
        self.logger = logger
    }

    /// Handles one ioctl. On success returns how many bytes of `output` to
    /// send back (the kernel copies them to the caller's struct); on failure
    /// nothing is copied back, as in the driver.
    public func ioctl(
        request: UInt32, input: UnsafeRawBufferPointer,
        output: UnsafeMutableRawBufferPointer, caller: Caller
    ) -> Result<Int, SmafErrno> {
        counters.withLock { $0.count(request) }
        guard let req = SmafRequest(rawValue: request) else {
            if let ext = SmafExtensionRequest(rawValue: request) {
                return extensionRequest(ext, input, output, caller)
            }
            if let legacy = LegacyRequest.lookup(request) {
                return legacyRequest(legacy, input, output, caller)
            }
            return refuse(.EINVAL, request: request, caller: caller, "unknown request")
        }
        // The driver tests for a secure module before it even reads the
        // struct (spec §3.5 step 1, B12).
        if req == .setSecureFlag, secureModule == nil {
            return refuse(.EINVAL, request: request, caller: caller, "no secure module is loaded (--secure-module none)")
        }
        // The kernel derives both sizes from the request number; anything else
        // did not come from a well-behaved kernel, so never index past it.
        guard input.count == req.structSize, output.count >= req.structSize else {
            return refuse(.EINVAL, request: request, caller: caller,
                          "argument is \(input.count) bytes in, \(output.count) out; expected \(req.structSize)")
        }
        switch req {
        case .create: return create(input, output, caller)
        case .getSecureFlag: return getSecureFlag(input, output, caller)
        case .setSecureFlag: return setSecureFlag(input, output, caller)
        case .getInfo: return getInfo(input, output, caller)
        }
    }

    /// Convenience for tests and tools: bytes in, bytes out.
    public func ioctl(request: UInt32, input: [UInt8], caller: Caller) -> Result<[UInt8], SmafErrno> {
        let size = SmafRequest(rawValue: request)?.structSize
            ?? SmafExtensionRequest(rawValue: request)?.structSize ?? LegacyRequest.lookup(request)?.size ?? input.count
        var out = [UInt8](repeating: 0, count: size)
        let r = input.withUnsafeBytes { inp in
            out.withUnsafeMutableBytes { ioctl(request: request, input: inp, output: $0, caller: caller) }
        }
        return r.map { Array(out[0..<$0]) }
    }

    // MARK: - SMAF_IOC_CREATE (spec §3.3)

    /// SMAF_IOC_CREATE, or the create part of SMAF_IOC_EXT_CREATE_FOR (`rq`)
    /// with the devices' merged constraints.
    /// `selectable`: a v2 CREATE, whose allocator SELECT_BY_NAME may still pick.
    func create(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller,
                constraints: DeviceConstraints = DeviceConstraints(),
                request rq: UInt32 = SmafRequest.create.rawValue, selectable: Bool = false) -> Result<Int, SmafErrno> {
        var data = SmafCreateData(unchecked: input)
        guard data.version == 0 else {
            return refuse(.EINVAL, request: rq, caller: caller, "version \(data.version) is not 0")
        }
        guard data.flags & ~SmafABI.validCreateFlags == 0 else {
            return refuse(.EINVAL, request: rq, caller: caller,
                          "flags 0x\(String(data.flags, radix: 16)) have bits outside SMAF_RDWR|SMAF_CLOEXEC (0x\(String(SmafABI.validCreateFlags, radix: 16)))")
        }
        // Safer than the driver (B6): a 0-byte buffer can never be mapped, and
        // a length near 2^64 would wrap in the page rounding.
        guard data.length > 0 else {
            return refuse(.EINVAL, request: rq, caller: caller, "length 0 is refused (a 0-byte buffer can never be mapped)")
        }
        guard roundedLength(data.length) != nil else {
            return refuse(.EINVAL, request: rq, caller: caller, "length \(data.length) overflows page rounding")
        }
        var named: (any Allocator)?
        if data.name[0] != 0 {
            data.name[SmafABI.maxNameLength - 1] = 0  // visible in the echoed struct, as in the driver
            named = registry.lookup(data.name)
            guard named != nil else {
                return refuse(.EINVAL, request: rq, caller: caller, "no allocator named '\(data.name.string)'")
            }
        }
        // A CUSE reply cannot carry a file descriptor (design §2.1): without an
        // out-of-band channel to this process the buffer cannot be delivered.
        // A caller whose thread id names a process with a channel is that
        // process's main thread (tids and pids share one number space), so
        // /proc is read only for other threads.
        let pid = handoff?.hasChannel(process: caller.tid) == true
            ? caller.tid : environment.processID(ofThread: caller.tid) ?? caller.tid
        guard let handoff, let lifetime, handoff.hasChannel(process: pid) else {
            warnNoHandoffChannelOnce(pid: pid, caller)
            return refuse(.ENOTCONN, request: rq, caller: caller, "process \(pid) has no handoff channel to receive the buffer fd")
        }
        let size = roundedLength(data.length)!
        guard size <= limits.maxBufferSize else {
            return refuse(.ENOMEM, request: rq, caller: caller,
                          "limit: \(size) bytes is more than --max-buffer-size \(limits.maxBufferSize)")
        }
        let readWrite = data.flags & SmafABI.flagRDWR != 0
        let allocator: any Allocator
        if let named {
            // A named buffer uses that allocator unconditionally (spec §3.8),
            // as far as it can make such a buffer at all.
            let p = named.properties
            guard size <= p.maxSize else {
                return refuse(.EINVAL, request: rq, caller: caller, "\(named.name) makes buffers of at most \(p.maxSize) bytes; \(size) asked")
            }
            guard readWrite || p.readOnly else {
                return refuse(.EINVAL, request: rq, caller: caller,
                              "\(named.name) cannot make read-only buffers (its exports are always writable); ask for SMAF_RDWR")
            }
            allocator = named
        } else if let chosen = registry.choose(for: constraints, length: size, readWrite: readWrite) {
            allocator = chosen
        } else {
            return refuse(.EINVAL, request: rq, caller: caller, registry.count == 0 ? "no allocator is registered"
                          : constraints.devices > 0 ? "no allocator meets the devices' constraints: "
                            + registry.allocators.map { "\($0.name) cannot give \($0.unmetConstraint(constraints, length: size) ?? "a \(readWrite ? "" : "read-only ")buffer of \(size) bytes")" }.joined(separator: "; ")
                            + (constraints.combinedNeeds.count > 1 && !registry.allocators.contains { constraints.givesCombinedNeeds($0.properties) }
                               ? "; the devices need \(constraints.combinedNeeds.joined(separator: " and ")), and no allocator on this kernel gives both" : "")
                          : "no allocator can make a \(readWrite ? "" : "read-only ")buffer of \(size) bytes")
        }
        let props = allocator.properties
        // The owner's limits are looked at before memory is committed (the
        // insert below decides, so concurrent CREATEs cannot overshoot).
        if let e = buffers.wouldExceed(uid: caller.uid, length: size, within: limits) {
            return refuse(e, request: rq, caller: caller, limitReason(caller))
        }
        if !props.lazy, let available = headroom.shortfall(for: size) {
            return refuse(.ENOMEM, request: rq, caller: caller, """
                \(allocator.name) commits every page at once and \(size) bytes would leave less than \
                \(headroom.reserve) of the \(available) bytes of memory available
                """)
        }
        // Quotas: charged before the memory is taken, given back below if the
        // buffer never reaches the table (QuotaLedger).
        let quota: QuotaCharge?
        switch chargeQuota(caller, pid: pid, bytes: size, allocator: allocator) {
        case .success(let q): quota = q
        case .failure(let refusal): return refuse(.ENOMEM, request: rq, caller: caller, refusal.description)
        }
        var quotaHandedOver = false
        defer { if !quotaHandedOver, let quota { lifetime.quotas?.release(quota) } }
        let serial = nextToken.add(1, ordering: .relaxed).newValue
        let memfd: Int32
        var prepared: FileIdentity?
        do throws(AllocationFailure) {
            if allocator.usesPlainMemfd, let p = pool?.take() {
                memfd = p.fd
                prepared = p.identity
                do { try MemfdAllocator.sizeAndSeal(p.fd, length: size) } catch {
                    close(p.fd)
                    throw error
                }
            } else {
                memfd = try allocator.allocate(AllocationRequest(length: size, readWrite: readWrite, recipient: pid))
            }
        } catch {
            return refuse(error.errno, request: rq, caller: caller, "\(allocator.name) could not allocate \(size) bytes: \(error.reason)")
        }
        defer { close(memfd) }
        // Named so fdinfo, /proc/PID/fd links and debugfs show whose it is.
        if props.dmabuf, smaf_sys_dmabuf_set_name(memfd, "smaf:\(caller.uid):\(serial)") != 0 {
            logger.debug("could not name a \(allocator.name) buffer: \(String(cString: strerror(errno)))")
        }
        // Without SMAF_RDWR the caller gets a read-only file, so a writable
        // shared mapping fails with EACCES as on the driver: dma-buf
        // exporters make one themselves; a memfd is reopened read-only.
        var handle = memfd
        if !readWrite && props.lifetime == .inode {
            handle = open("/proc/self/fd/\(memfd)", O_RDONLY | O_CLOEXEC)
            guard handle >= 0 else { return refuse(.ENOMEM, request: rq, caller: caller, "cannot reopen the buffer read-only") }
        }
        defer { if handle != memfd { close(handle) } }
        var record = BufferRecord(length: size, flags: data.flags, allocator: allocator.name, ownerUID: caller.uid)
        record.selectable = selectable
        record.stamp(creator: pid, quota: quota)
        let identity: FileIdentity
        do {
            if let prepared {
                try lifetime.record(record, for: prepared, within: limits)
                identity = prepared
            } else {
                identity = try lifetime.track(fd: memfd, kind: props.lifetime, record: record, within: limits)
            }
        } catch {
            return refuse(error, request: rq, caller: caller, error == .EMFILE || error == .ENOMEM
                          ? limitReason(caller) : "cannot track the new buffer")
        }
        quotaHandedOver = true  // the record has it now; BufferLifetime gives it back
        // The fd field carries a token (<= -2, never an fd number) that names
        // the message the buffer travels in; the client swaps in the real fd.
        let token = -2 - Int32(bitPattern: serial & 0x3FFF_FFFF)
        if let e = handoff.deliver(fd: handle, token: token, flags: data.flags, length: size, to: pid) {
            lifetime.forget(identity)
            return refuse(e, request: rq, caller: caller, "the buffer could not be sent to process \(pid)")
        }
        data.fd = token
        data.encodeUnchecked(into: output)
        return .success(SmafCreateData.wireSize)
    }

    private func limitReason(_ caller: Caller) -> String {
        "limit: uid \(caller.uid) is at --max-buffers-per-user \(limits.maxBuffersPerUser) or --max-bytes-per-user \(limits.maxBytesPerUser)"
    }

    /// The buffer size for a requested length, or nil if rounding overflows or
    /// the size cannot be an off_t.
    public func roundedLength(_ length: UInt64) -> UInt64? {
        let (sum, overflow) = length.addingReportingOverflow(pageSize - 1)
        guard !overflow else { return nil }
        let rounded = sum & ~(pageSize - 1)
        return rounded <= UInt64(Int64.max) ? rounded : nil
    }

    private func warnNoHandoffChannelOnce(pid: Int32, _ caller: Caller) {
        let first = warnedNoChannel.withLock { set -> Bool in
            if set.count >= Self.warnedNoChannelLimit { set.removeAll(keepingCapacity: true) }
            return set.insert(pid).inserted
        }
        if first {
            logger.warning("""
                process \(pid) (uid \(caller.uid)) called SMAF_IOC_CREATE without a handoff channel: \
                a CUSE ioctl cannot return a file descriptor, so the buffer is delivered over smafd's \
                handoff socket, which the client library (libsmaf) or its LD_PRELOAD shim sets up; \
                the call fails with ENOTCONN
                """)
        }
    }

    // MARK: - SMAF_IOC_GET_SECURE_FLAG (spec §3.4)

    func getSecureFlag(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller,
                       request rq: UInt32 = SmafRequest.getSecureFlag.rawValue) -> Result<Int, SmafErrno> {
        var data = SmafSecureFlag(unchecked: input)
        guard data.version == 0 else {
            return refuse(.EINVAL, request: rq, caller: caller, "version \(data.version) is not 0")
        }
        guard data.fd != -1 else {
            return refuse(.EINVAL, request: rq, caller: caller, "fd is -1")
        }
        // B1: the driver oopsed on fds that do not resolve; refuse them instead.
        guard let identity = environment.fileIdentity(ofFD: data.fd, inThread: caller.tid) else {
            return refuse(.EINVAL, request: rq, caller: caller, "fd \(data.fd) is not open in thread \(caller.tid)")
        }
        // Any open file that is not one of our buffers reads as "not secure",
        // like a foreign dma-buf on the driver; except a buffer an earlier
        // smafd instance made: it may be secure (deny-cpu's seal outlives the
        // daemon), so "0" could be a wrong answer. Refuse instead.
        guard let record = buffers.record(for: identity) else {
            if environment.looksLikeSmafBuffer(fd: data.fd, inThread: caller.tid) {
                return refuse(.EINVAL, request: rq, caller: caller,
                              "fd \(data.fd) is a buffer of an earlier smafd instance; its secure state is unknown here")
            }
            data.secure = 0
            data.encodeUnchecked(into: output)
            return .success(SmafSecureFlag.wireSize)
        }
        data.secure = record.secure != nil ? 1 : 0
        data.encodeUnchecked(into: output)
        return .success(SmafSecureFlag.wireSize)
    }

    // MARK: - SMAF_IOC_SET_SECURE_FLAG (spec §3.5)

    func setSecureFlag(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller,
                       request rq: UInt32 = SmafRequest.setSecureFlag.rawValue) -> Result<Int, SmafErrno> {
        guard let module = secureModule else {  // checked in ioctl() already; kept for clarity
            return refuse(.EINVAL, request: rq, caller: caller, "no secure module is loaded")
        }
        let data = SmafSecureFlag(unchecked: input)
        guard data.version == 0 else {
            return refuse(.EINVAL, request: rq, caller: caller, "version \(data.version) is not 0")
        }
        guard let identity = environment.fileIdentity(ofFD: data.fd, inThread: caller.tid) else {
            return refuse(.EINVAL, request: rq, caller: caller, "fd \(data.fd) is not open in thread \(caller.tid)")
        }
        let wantSecure = data.secure != 0
        // Never report a buffer secure that the policy cannot enforce (a
        // deny-cpu seal does not apply to a dma-buf): refuse with EINVAL.
        if wantSecure, let record = buffers.record(for: identity), record.secure == nil,
           let props = registry.lookup(record.allocator)?.properties, !module.canEnforce(on: props) {
            return refuse(.EINVAL, request: rq, caller: caller,
                          "\(module.name) cannot be enforced on \(record.allocator) buffers (\(props.backing)); the buffer stays non-secure")
        }
        var failure = SmafErrno.EINVAL
        let outcome: String? = buffers.update(identity) { record -> String? in
            if wantSecure {
                if record.secure != nil { return nil }  // idempotent
                if let e = module.willSecure(BufferAccess(tid: caller.tid, fd: data.fd)) {
                    failure = e
                    return e == .EBUSY ? "the buffer has a writable shared mapping; \(module.name) cannot secure it"
                                       : "\(module.name) could not restrict the buffer"
                }
                guard let ctx = module.createContext() else { return "\(module.name) could not create a context" }
                record.secure = ctx
            } else {
                guard let ctx = record.secure else { return nil }  // idempotent
                guard module.destroyContext(ctx) else { return "\(module.name) refused to release the buffer" }
                record.secure = nil
            }
            return nil
        } ?? "fd \(data.fd) is not a SMAF buffer (\(identity))"
        if let reason = outcome {
            return refuse(failure, request: rq, caller: caller, reason)
        }
        // The driver copies nothing back for SET.
        return .success(0)
    }

    // MARK: - SMAF_IOC_GET_INFO (spec §3.6)

    func getInfo(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller,
                 request rq: UInt32 = SmafRequest.getInfo.rawValue) -> Result<Int, SmafErrno> {
        var data = SmafInfo(unchecked: input)
        guard data.version == 0 else {
            return refuse(.EINVAL, request: rq, caller: caller, "version \(data.version) is not 0")
        }
        let (found, count) = registry.entry(at: Int(data.index))
        guard let allocator = found else {
            return refuse(.EINVAL, request: rq, caller: caller, "index \(data.index) is not below the allocator count \(count)")
        }
        data.count = UInt32(count)
        data.name = FixedBytes(cString: allocator.name)
        data.name[SmafABI.maxNameLength - 1] = 0
        data.encodeUnchecked(into: output)
        return .success(SmafInfo.wireSize)
    }

    // MARK: - Operator queries (smafctl info/status)

    /// What this daemon is: version, node, kernel, secure module, allocators.
    public func info() -> JSONValue {
        let kernel = kernelRelease()
        return .object([
            ("version", .string(SmafVersion.string)),
            ("device", .string(devicePath)),
            ("kernel", .string(kernel)),
            ("secure_module", .string(secureModule?.name ?? "none")),
            ("secure_policy", .string(secureModule?.summary ?? "no secure module: SET_SECURE_FLAG fails with EINVAL")),
            ("handoff_socket", .string(handoff?.socketPath ?? "")),
            ("abi_generations", .array(generations.names.map { .string($0) })),
            ("page_size", .uint(pageSize)),
            ("warnings", .array([DmabufAdvice.cpuOnlyWarning(registry.allocators)].compactMap { $0 }.map { .string($0) })),
            ("allocators", .array(registry.allocators.enumerated().map { i, a in
                let p = a.properties
                return .object([
                    ("index", .int(Int64(i))), ("name", .string(a.name)), ("ranking", .int(Int64(a.ranking))),
                    ("dmabuf", .bool(p.dmabuf)), ("contiguous", .bool(p.contiguous)),
                    ("kernel_mappings", .string(p.kernelMappings.verdict.rawValue)),
                    ("kernel_mappings_source", .string(p.kernelMappings.source)), ("lazy", .bool(p.lazy)),
                    ("max_size", .uint(p.maxSize)), ("read_only", .bool(p.readOnly)),
                    ("secure_enforced", .bool(secureModule?.canEnforce(on: p) ?? false)),
                    ("backing", .string(p.backing)),
                    ("charged_to", .string(p.charge.rawValue)), ("committed_at", .string(p.commit.rawValue)),
                    ("quota_counted", .bool(quotas?.limits.counts(allocator: a.name, charge: p.charge) ?? false)),
                ])
            })),
        ])
    }

    /// The answer to a query on a handoff channel (nil: unknown kind).
    public func answer(_ q: HandoffQuery) -> JSONValue? {
        switch q.kind {
        case HandoffProtocol.queryInfo: return info()
        case HandoffProtocol.queryStatus: return status(viewer: q.uid)
        case HandoffProtocol.queryBuffer: return describeBuffer(fd: q.argument, of: q.pid, viewer: q.uid)
        case HandoffProtocol.queryBuffers: return listBuffers(viewer: q.uid)
        default: return nil
        }
    }

    /// One buffer the asking process holds as `fd`: which allocator made it,
    /// its size, flags and secure state. Only the asker's own fds resolve,
    /// and only buffers its uid owns (or any, for root) are described.
    public func describeBuffer(fd: UInt64, of pid: Int32, viewer uid: UInt32) -> JSONValue {
        guard fd <= UInt64(Int32.max), let identity = environment.fileIdentity(ofFD: Int32(fd), inThread: pid),
              let r = buffers.record(for: identity), uid == 0 || r.ownerUID == uid
        else { return .object([("buffer", .bool(false))]) }
        return .object([
            ("buffer", .bool(true)), ("allocator", .string(r.allocator)), ("length", .uint(r.length)),
            ("flags", .uint(UInt64(r.flags))), ("owner_uid", .uint(UInt64(r.ownerUID))), ("secure", .bool(r.secure != nil)),
        ])
    }

    /// What this daemon holds and has done: live buffers (total and per uid),
    /// handoff connections, requests and refusals by errno. `viewer`: the
    /// asking uid; any local user may ask (the socket is 0666), so only root
    /// and smafd's own user see other users' buffer counts, everyone else
    /// sees their own entry (nil: everything, for in-process callers).
    public func status(viewer: UInt32? = nil) -> JSONValue {
        let t = buffers.totals
        let c = counters.withLock { $0 }
        let seesEveryone = viewer.map { $0 == 0 || $0 == geteuid() } ?? true
        return .object([
            ("device", .string(devicePath)),
            ("live_buffers", .uint(UInt64(t.buffers))),
            ("live_bytes", .uint(t.bytes)),
            ("secure_buffers", .uint(UInt64(t.secure))),
            ("created_total", .uint(lifetime?.createdTotal ?? 0)),
            ("handoff_connections", .uint(UInt64(handoff?.channelCount ?? 0))),
            ("by_uid", .array(buffers.totalsByUID.filter { seesEveryone || $0.uid == viewer }.map { u in
                .object([("uid", .uint(UInt64(u.uid))), ("buffers", .uint(UInt64(u.buffers))), ("bytes", .uint(u.bytes))]
                        + quotaFields(uid: u.uid))
            })),
            ("quotas", quotaStatus(viewer: viewer)),
            ("requests", .object(c.requestsByName.map { ($0.0, .uint($0.1)) })),
            ("refusals", .object(c.refusals.keys.sorted().map { (SmafErrno($0).description, .uint(c.refusals[$0]!)) })),
        ])
    }

    // MARK: - smafd extensions (smaf_ext.h)

    private func extensionRequest(_ req: SmafExtensionRequest, _ input: UnsafeRawBufferPointer,
                                  _ output: UnsafeMutableRawBufferPointer, _ caller: Caller) -> Result<Int, SmafErrno> {
        guard input.count == req.structSize, output.count >= req.structSize else {
            return refuse(.EINVAL, request: req.rawValue, caller: caller,
                          "argument is \(input.count) bytes in, \(output.count) out; expected \(req.structSize)")
        }
        let version = input.field(0, as: UInt64.self)
        guard version == 0 else {
            return refuse(.EINVAL, request: req.rawValue, caller: caller, "version \(version) is not 0")
        }
        output.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<req.structSize]))
        // The two requests that name devices: resolve them first.
        var constraints = DeviceConstraints()
        if let at = req == .createFor ? (SmafExtensionRequest.CreateForField.nDevices, SmafExtensionRequest.CreateForField.deviceFDs)
            : req == .devices ? (SmafExtensionRequest.DevicesField.nDevices, SmafExtensionRequest.DevicesField.deviceFDs) : nil {
            switch resolveDevices(input, count: at.0, fds: at.1, req, caller) {
            case .failure(let e): return .failure(e)
            case .success(let c): constraints = c
            }
        }
        switch req {
        case .createFor:
            typealias F = SmafExtensionRequest.CreateForField
            let created = create(UnsafeRawBufferPointer(rebasing: input[F.create..<(F.create + SmafCreateData.wireSize)]),
                                 UnsafeMutableRawBufferPointer(rebasing: output[F.create..<(F.create + SmafCreateData.wireSize)]),
                                 caller, constraints: constraints, request: req.rawValue)
            return created.map { _ in req.structSize }
        case .devices:
            typealias F = SmafExtensionRequest.DevicesField
            let length = roundedLength(max(input.field(F.length, as: UInt64.self), 1)) ?? UInt64(Int64.max)
            var mask: UInt64 = 0
            for (i, a) in registry.allocators.prefix(64).enumerated()
            where a.canServe(length: length, readWrite: true) && a.unmetConstraint(constraints, length: length) == nil {
                mask |= 1 << UInt64(i)
            }
            output.setField(F.needs, constraints.needsBits)
            output.setField(F.dmaMaskBits, UInt32(constraints.dmaMaskBits))
            output.setField(F.align, constraints.align)
            output.setField(F.allocators, mask)
            output.setField(F.sources, constraints.sources)
        case .connect:
            typealias F = SmafExtensionRequest.ConnectField
            guard let handoff else {
                return refuse(.EINVAL, request: req.rawValue, caller: caller, "this smafd has no handoff channels")
            }
            let sock = input.field(F.sock, as: Int32.self)
            let pid = environment.processID(ofThread: caller.tid) ?? caller.tid
            let taken: Int32
            switch environment.takeFD(sock, ofProcess: pid) {
            case .success(let fd): taken = fd
            case .failure(let e):
                return refuse(e, request: req.rawValue, caller: caller, e == .EBADF ? "sock \(sock) is not open in process \(pid)"
                              : "cannot take fd \(sock) of process \(pid): pidfd_getfd failed: "
                                + "Linux 5.6+, CAP_SYS_PTRACE and a seccomp filter that allows it are needed; the client falls back to the socket path")
            }
            if let (e, reason) = handoff.adopt(socket: taken, process: pid, uid: caller.uid) {
                return refuse(e, request: req.rawValue, caller: caller, "sock \(sock) of process \(pid): \(reason)")
            }
            output.setField(F.protocolVersion, HandoffProtocol.version)
        case .handoff:
            guard let handoff else {
                return refuse(.EINVAL, request: req.rawValue, caller: caller, "this smafd has no handoff socket")
            }
            typealias F = SmafExtensionRequest.HandoffField
            output.setField(F.protocolVersion, HandoffProtocol.version)
            for i in 0..<(F.reserved2 - F.path) { output[F.path + i] = 0 }
            for (i, b) in handoff.socketPath.utf8.enumerated() { output[F.path + i] = b }
        case .status:
            typealias F = SmafExtensionRequest.StatusField
            let t = buffers.totals
            output.setField(F.liveBuffers, UInt64(t.buffers))
            output.setField(F.liveBytes, t.bytes)
            output.setField(F.channels, UInt32(handoff?.channelCount ?? 0))
            output.setField(F.secureBuffers, UInt32(t.secure))
            output.setField(F.createdTotal, lifetime?.createdTotal ?? 0)
        }
        return .success(req.structSize)
    }

    /// The merged constraints of the devices a request names: `count` and
    /// `fds` are offsets in its struct. E2BIG for more devices than the
    /// struct holds, EBADF for an fd not open in the caller, ENODEV for one
    /// that is not a character device.
    private func resolveDevices(_ input: UnsafeRawBufferPointer, count: Int, fds: Int,
                                _ req: SmafExtensionRequest, _ caller: Caller) -> Result<DeviceConstraints, SmafErrno> {
        let n = input.field(count, as: UInt32.self)
        guard n <= UInt32(SmafExtensionRequest.maxDevices) else {
            return .failure(refusal(.E2BIG, req.rawValue, caller, "\(n) devices named; at most \(SmafExtensionRequest.maxDevices) fit"))
        }
        var constraints = DeviceConstraints()
        for i in 0..<Int(n) {
            let fd = input.field(fds + 4 * i, as: Int32.self)
            switch environment.device(ofFD: fd, inThread: caller.tid) {
            case .notOpen:
                return .failure(refusal(.EBADF, req.rawValue, caller, "device fd \(fd) is not open in thread \(caller.tid)"))
            case .notCharacterDevice:
                return .failure(refusal(.ENODEV, req.rawValue, caller, "device fd \(fd) is not a character device"))
            case .device(let major, let minor):
                let f = deviceFacts.facts(major: major, minor: minor)
                if f.sources & DeviceFactSources.noUdev != 0, !warnedNoUdev.exchange(true, ordering: .relaxed) {
                    logger.warning("""
                        udev has no data for device \(f.device) (\(f.sysfsPath.isEmpty ? "not in sysfs" : f.sysfsPath)): \
                        is systemd-udevd running? Constraints come from sysfs alone (no SMAF_DMA_* properties, \
                        so no device is known to need contiguous memory); said once
                        """)
                }
                logger.debug("device fd \(fd) of tid \(caller.tid): \(f.device) \(f.sysfsPath) contiguous=\(f.contiguous) kernel_mapping=\(f.kernelMapping) dma_mask_bits=\(f.dmaMaskBits.map(String.init) ?? "-") align=\(f.align) iommu=\(f.iommu)")
                constraints.add(f)
            }
        }
        return .success(constraints)
    }

    // MARK: -

    func refusal(_ errno: SmafErrno, _ request: UInt32, _ caller: Caller, _ reason: @autoclosure () -> String) -> SmafErrno {
        if case .failure(let e) = refuse(errno, request: request, caller: caller, reason()) { return e }
        return errno
    }

    func refuse(_ errno: SmafErrno, request: UInt32, caller: Caller, _ reason: @autoclosure () -> String) -> Result<Int, SmafErrno> {
        counters.withLock { $0.refusals[errno.rawValue, default: 0] += 1 }
        logger.debug("refused \(SmafRequest(rawValue: request)?.name ?? SmafExtensionRequest(rawValue: request)?.name ?? LegacyRequest.lookup(request)?.name ?? "request") 0x\(String(request, radix: 16, uppercase: true)) from tid \(caller.tid)\(caller.compat ? " (32-bit)" : "") uid \(caller.uid) with \(errno): \(reason())")
        return .failure(errno)
    }
}

/// Per-request and per-errno counters for `status`.
struct RequestCounters {
    /// v10 requests by nr (0-3), then the two extensions, anything else,
    /// and the older generations' requests.
    var requests = [UInt64](repeating: 0, count: 8)
    var refusals: [Int32: UInt64] = [:]

    mutating func count(_ request: UInt32) {
        let slot: Int
        if let r = SmafRequest(rawValue: request) {
            slot = Int(r.rawValue & 0xFF)
        } else if let e = SmafExtensionRequest(rawValue: request) {
            slot = e == .handoff ? 4 : 5
        } else if LegacyRequest.lookup(request) != nil {
            slot = 7
        } else {
            slot = 6
        }
        requests[slot] += 1
    }

    var requestsByName: [(String, UInt64)] {
        SmafRequest.allCases.map { ($0.name, requests[Int($0.rawValue & 0xFF)]) }
            + [(SmafExtensionRequest.handoff.name, requests[4]), (SmafExtensionRequest.status.name, requests[5]),
               ("legacy", requests[7]), ("other", requests[6])]
    }
}

/// The version smafd and smafctl report.
public enum SmafVersion {
    public static let string = "0.3.0"
}
