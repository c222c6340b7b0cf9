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
    let environment: any CallerEnvironment
    let logger: Logger
    /// Processes already told (at warning level) that they have no handoff
    /// channel; bounded so a pid churn cannot grow it without limit.
    private let warnedNoChannel = Mutex(Set<Int32>())
    static let warnedNoChannelLimit = 4096

    public init(
        registry: AllocatorRegistry,
        secureModule: (any SecureModule)?,
        buffers: BufferTable = BufferTable(),
        environment: any CallerEnvironment = ProcFSEnvironment(),
        pageSize: UInt64 = UInt64(sysconf(Int32(_SC_PAGESIZE))),
        logger: Logger
    ) {
        self.registry = registry
        self.secureModule = secureModule
        self.buffers = buffers
        self.environment = environment
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
        guard let req = SmafRequest(rawValue: request) else {
            return refuse(.EINVAL, request: request, caller: caller,
                          SmafRequest.legacyDescription(request).map { "legacy request (\($0)) is not part of the v10 ABI" }
                            ?? "unknown request")
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
        let size = SmafRequest(rawValue: request)?.structSize ?? input.count
        var out = [UInt8](repeating: 0, count: size)
        let r = input.withUnsafeBytes { inp in
            out.withUnsafeMutableBytes { ioctl(request: request, input: inp, output: $0, caller: caller) }
        }
        return r.map { Array(out[0..<$0]) }
    }

    // MARK: - SMAF_IOC_CREATE (spec §3.3)

    private func create(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller) -> Result<Int, SmafErrno> {
        let rq = SmafRequest.create.rawValue
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
        if data.name[0] != 0 {
            data.name[SmafABI.maxNameLength - 1] = 0  // visible in the echoed struct, as in the driver
            guard registry.lookup(data.name) != nil else {
                return refuse(.EINVAL, request: rq, caller: caller, "no allocator named '\(data.name.string)'")
            }
        }
        // A CUSE reply cannot carry a file descriptor (design §2.1): without an
        // out-of-band channel to this process the buffer cannot be delivered.
        warnNoHandoffChannelOnce(caller)
        return refuse(.ENOTCONN, request: rq, caller: caller, "the caller has no handoff channel to receive the buffer fd")
    }

    /// The buffer size for a requested length, or nil if rounding overflows or
    /// the size cannot be an off_t.
    public func roundedLength(_ length: UInt64) -> UInt64? {
        let (sum, overflow) = length.addingReportingOverflow(pageSize - 1)
        guard !overflow else { return nil }
        let rounded = sum & ~(pageSize - 1)
        return rounded <= UInt64(Int64.max) ? rounded : nil
    }

    private func warnNoHandoffChannelOnce(_ caller: Caller) {
        let pid = environment.processID(ofThread: caller.tid) ?? caller.tid
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

    private func getSecureFlag(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller) -> Result<Int, SmafErrno> {
        let rq = SmafRequest.getSecureFlag.rawValue
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
        // like a foreign dma-buf on the driver.
        let secure = buffers.record(for: identity)?.secure != nil
        data.secure = secure ? 1 : 0
        data.encodeUnchecked(into: output)
        return .success(SmafSecureFlag.wireSize)
    }

    // MARK: - SMAF_IOC_SET_SECURE_FLAG (spec §3.5)

    private func setSecureFlag(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller) -> Result<Int, SmafErrno> {
        let rq = SmafRequest.setSecureFlag.rawValue
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
        let outcome: String? = buffers.update(identity) { record -> String? in
            if wantSecure {
                if record.secure != nil { return nil }  // idempotent
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
            return refuse(.EINVAL, request: rq, caller: caller, reason)
        }
        // The driver copies nothing back for SET.
        return .success(0)
    }

    // MARK: - SMAF_IOC_GET_INFO (spec §3.6)

    private func getInfo(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer, _ caller: Caller) -> Result<Int, SmafErrno> {
        let rq = SmafRequest.getInfo.rawValue
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

    // MARK: -

    private func refuse(_ errno: SmafErrno, request: UInt32, caller: Caller, _ reason: @autoclosure () -> String) -> Result<Int, SmafErrno> {
        logger.debug("refused \(SmafRequest(rawValue: request)?.name ?? "request 0x\(String(request, radix: 16, uppercase: true))") from tid \(caller.tid) uid \(caller.uid) with \(errno): \(reason())")
        return .failure(errno)
    }
}
