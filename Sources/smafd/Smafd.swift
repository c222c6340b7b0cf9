// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import CFuse
import Logging
import SmafCUSE
import SmafCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension SecurePolicy: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

@main
struct Smafd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smafd",
        abstract: "Serve the SMAF v10 device (/dev/smaf) from userspace through CUSE.",
        discussion: """
            smafd registers a character device with the kernel's CUSE driver and answers the \
            SMAF ioctls (CREATE, GET/SET_SECURE_FLAG, GET_INFO) with the v10 ABI: the same \
            request numbers, struct layouts and errno values as the proposed kernel driver. \
            It needs /dev/cuse (modprobe cuse) and root to open it; every option is checked \
            first, so a usage error (exit status 64) is reported on any kernel. See smafd(8).
            """,
        version: SmafVersion.string)

    @Option(help: ArgumentHelp(
        "Device node name; the node is /dev/<name>.",
        discussion: "Letters, digits, '.', '_' and '-' only."))
    var devname = "smaf"

    @Flag(help: "Stay in the foreground. Without it smafd detaches once the device node exists.")
    var foreground = false

    @Option(help: ArgumentHelp(
        "What SET_SECURE_FLAG means.",
        discussion: """
            testsecure: secure is a flag only, CPU mappings of secure buffers are allowed \
            (the upstream test module). deny-cpu: CPU writes to secure buffers are refused \
            (memfd write seal; permanent; reads stay allowed; EINVAL on buffers no seal applies \
            to, dma-bufs and secretmem). none: SET_SECURE_FLAG fails with EINVAL and \
            GET_SECURE_FLAG reports 0.
            """))
    var secureModule: SecurePolicy = .testsecure

    @Option(help: ArgumentHelp(
        "Log level.",
        discussion: "At debug, every refused request is logged with its reason."))
    var logLevel: Logger.Level = .info

    @Option(name: .customLong("alias"), help: ArgumentHelp(
        "Register OLD as another name for allocator NEW (repeatable).",
        discussion: "For programs that hard-code an original allocator name, e.g. --alias smaf-cma=smaf-memfd. Aliases are listed by GET_INFO like any allocator.",
        valueName: "OLD=NEW"))
    var aliases: [String] = []

    @Option(help: ArgumentHelp(
        "Probe and offer only these allocators (comma-separated names).",
        discussion: """
            By default every allocator that works on this host is offered: smaf-heap-<heap> for each \
            /dev/dma_heap/<heap>, smaf-udmabuf, smaf-udmabuf-hugetlb (when huge pages are reserved), \
            smaf-vgem (when vgem is loaded), smaf-drm-<driver> for each --drm-device, smaf-memfd and \
            smaf-secretmem. Each is registered only if a probe allocation succeeds.
            """,
        valueName: "list"))
    var allocators: String?

    @Option(name: .customLong("rank"), help: ArgumentHelp(
        "Give allocator NAME the ranking N (repeatable); bigger is preferred.",
        discussion: "GET_INFO lists allocators by ranking and an unnamed CREATE takes the first that can make the buffer.",
        valueName: "NAME=N"))
    var ranks: [String] = []

    @Option(name: .customLong("drm-device"), help: ArgumentHelp(
        "Also offer dumb buffers of this DRM primary node, e.g. /dev/dri/card0 (repeatable).",
        discussion: "vgem is used without this option. smafd drops the DRM master role that opening a primary node may give it.",
        valueName: "path"))
    var drmDevices: [String] = []

    @Option(name: .customLong("kernel-mappings"), help: ArgumentHelp(
        "Declare allocator NAME's kernel mappings correct or wrong (repeatable, or comma-separated).",
        discussion: """
            Whether the kernel's own mapping of a buffer (how vivid, vkms and other devices without DMA \
            of their own read and write it) holds the buffer's bytes. smafd finds out with a start-up \
            self-test through vkms when a vkms card exists, otherwise from a rule for the running \
            kernel (udmabuf over huge pages, or over shmem with large folios, maps wrongly since 6.11); \
            this option overrides both, e.g. for a kernel with the fix. Devices that use buffers \
            through the kernel never get an allocator whose kernel mappings are wrong.
            """,
        valueName: "NAME=correct|wrong"))
    var kernelMappings: [String] = []

    @Flag(help: "Do not run the kernel-mapping self-test through vkms; take the rule for this kernel.")
    var noKernelMappingSelfTest = false

    @Option(help: ArgumentHelp(
        "Directory of the handoff socket (<dir>/<devname>.sock).",
        discussion: "Created 0755 if missing; it must belong to smafd's user and be writable by nobody else."))
    var socketDir = "/run/smaf"

    @Option(help: ArgumentHelp(
        "After setup, run as this user (name or uid).",
        discussion: "smafd opens /dev/cuse and binds its socket as root, then drops to this user before serving, keeping only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (to resolve fd numbers in other users' /proc/<tid>/fd)."))
    var user: String?

    @Option(help: ArgumentHelp("Largest buffer, e.g. 256M (default: physical memory). Larger: ENOMEM.", valueName: "size"))
    var maxBufferSize: String?

    @Option(help: ArgumentHelp("Live buffers one user may own; more: EMFILE.", valueName: "n"))
    var maxBuffersPerUser: Int = Limits.defaults.maxBuffersPerUser

    @Option(help: ArgumentHelp("Live bytes one user may own, e.g. 4G (default: physical memory). More: ENOMEM.", valueName: "size"))
    var maxBytesPerUser: String?

    @Option(name: .customLong("user-limit"), help: ArgumentHelp(
        "Live bytes of unaccounted memory one user may hold, or UID=SIZE for one user (repeatable).",
        discussion: "Default: a quarter of physical memory. Unaccounted: the pages of allocators the kernel charges to no cgroup of the caller (dma-buf heaps, udmabuf; see quota_counted in smafctl info). More: ENOMEM. SIZE may be unlimited.",
        valueName: "size"))
    var userLimits: [String] = []

    @Option(name: .customLong("cgroup-limit"), help: ArgumentHelp(
        "Live bytes of unaccounted memory the processes of one cgroup may hold, or PATH=SIZE for one cgroup (repeatable).",
        discussion: "Default: a quarter of physical memory. The cgroup is the creating process's (/proc/<pid>/cgroup); the root cgroup is bounded only by PATH=SIZE with PATH /.",
        valueName: "size"))
    var cgroupLimits: [String] = []

    @Option(help: ArgumentHelp("Live bytes of unaccounted memory all users together may hold (default: half of physical memory).", valueName: "size"))
    var totalLimit: String?

    @Option(name: .customLong("quota-allocator"), help: ArgumentHelp(
        "Also count allocator NAME in the quotas although the kernel charges its pages to the process that touches them (repeatable).",
        discussion: "For machines whose users have no memory cgroup limit, e.g. --quota-allocator smaf-vgem.",
        valueName: "name"))
    var quotaAllocators: [String] = []

    @Option(help: ArgumentHelp("Handoff connections one process may hold; more are closed at once.", valueName: "n"))
    var maxChannelsPerProcess: Int = 4

    @Flag(help: "Do not install smafd's seccomp filter (for debugging).")
    var noSeccomp = false

    @Option(help: ArgumentHelp(
        "ABI generations served besides v10: v2, v3, v7, s64 or all (comma-separated).",
        discussion: """
            By default only the v10 request numbers are answered and every older one gets EINVAL, \
            as on the kernel driver. v2, v3 (v3-v6), v7 and s64 (the 64-bit-fd variant) accept \
            that generation's request numbers, LP64 and ILP32 layouts alike, translated into \
            the same operations; all = v2,v3,v7,v10,s64.
            """,
        valueName: "list"))
    var abiGenerations = "v10"

    @Option(help: .hidden)
    var cuseDevice = "/dev/cuse"

    func run() throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "smafd")

        let cuseFD = try openCUSE()
        // CUSE itself would accept the session and then drop it; say why up front.
        if access("/dev/\(devname)", F_OK) == 0 {
            var stderrStream = StandardError()
            print("smafd: /dev/\(devname) already exists (is another smafd serving it?); choose another --devname", to: &stderrStream)
            throw ExitCode(1)
        }

        let module = secureModule.makeModule()
        let registry = try makeRegistry(module, logger)
        let target = try user.map { try PrivilegeDrop.resolve($0) }
        let lifetime = try BufferLifetime(table: BufferTable(), quotas: QuotaLedger(limits: try quotaLimits(), ownCgroup: OwnCgroup()), logger: logger)
        // Memfds prepared ahead only serve unnamed buffers when a memfd
        // allocator comes first; otherwise they would only hold watches.
        let pool = registry.allocators.first?.usesPlainMemfd == true ? MemfdPool(lifetime: lifetime) : nil
        let exports = ExportPool(lifetime: lifetime, logger: logger)
        let handoff: HandoffChannels
        do {
            if let target { try PrivilegeDrop.prepareDirectory(socketDir, for: target) }
            handoff = try HandoffChannels(directory: socketDir, name: devname, maxChannelsPerProcess: maxChannelsPerProcess,
                                          owner: target?.uid, logger: logger)
        } catch {
            var stderrStream = StandardError()
            print("smafd: \(error)", to: &stderrStream)
            throw ExitCode(1)
        }
        let events = EventLoop(channels: handoff, lifetime: lifetime, pool: pool, exports: exports, logger: logger)
        defer { events.stop() }
        let device = SmafDevice(registry: registry, secureModule: module,
                                handoff: handoff, lifetime: lifetime, pool: pool, exports: exports, limits: try limits(), devicePath: "/dev/\(devname)",
                                generations: try generations(), logger: logger)
        events.setQueryResponder { [device] q in device.answer(q) }
        let notify = SystemdNotify()

        // Detach before any thread exists; the parent waits until the node is there.
        let readyPipe = foreground ? nil : try detach()
        // Everything that needs root is done (/dev/cuse is open, the socket
        // bound). The node itself is created by the kernel when it reads our
        // CUSE_INIT reply from the already-open fd, which needs no privilege;
        // dropping here, before any thread exists, gives every thread the
        // reduced credentials (they are per thread).
        if let target { try PrivilegeDrop.apply(target, logger: logger) }
        if !noSeccomp { PrivilegeDrop.installSeccomp(logger: logger) }
        try events.start()
        let ready = ReadyFlag()
        let server = CUSEServer(device: device, deviceName: devname, logger: logger) { [devname] in
            ready.set()
            // Only now does the node exist: tell systemd (Type=notify).
            if !notify.send("READY=1\nSTATUS=serving /dev/\(devname)\nMAINPID=\(getpid())") {
                logger.warning("could not notify systemd at $NOTIFY_SOCKET")
            }
            readyPipe?.signal()
        }
        try server.makeSession()
        try server.attach(cuseFD: cuseFD)
        guard server.installSignalHandlers() else { throw CUSEError("could not install signal handlers") }
        logStartupFacts(device, logger)
        let result = server.run(multithreaded: true)
        notify.send("STOPPING=1")
        server.removeSignalHandlers()
        server.close()  // closing /dev/cuse removes the node
        // libfuse ends the loop with the number of the signal that stopped it,
        // or 0 when the kernel closed the connection, which is never a clean
        // stop: it refused the node (name taken) or the connection was aborted.
        guard result > 0 else {
            logger.error(ready.isSet
                ? "the kernel ended the CUSE connection for /dev/\(devname) (name already taken by another CUSE device, or the connection was aborted)"
                : "the CUSE session ended before /dev/\(devname) was created (libfuse status \(result))")
            throw ExitCode(1)
        }
        logger.info("stopped by signal \(result); /dev/\(devname) removed")
    }

    /// What an operator needs to know about this instance, once, at info level.
    private func logStartupFacts(_ device: SmafDevice, _ logger: Logger) {
        let info = device.info()
        guard case .object(let fields) = info else { return }
        let value = { (key: String) -> String in
            if case .string(let s)? = fields.first(where: { $0.0 == key })?.1 { return s }
            return "?"
        }
        let allocators = device.registry.allocators.map { "\($0.name) (ranking \($0.ranking), \($0.backing))" }
        let l = device.limits
        let memory = Limits.defaults
        func size(_ v: UInt64, _ d: UInt64) -> String { v == d ? "\(v) bytes (physical memory)" : "\(v) bytes" }
        if let warning = DmabufAdvice.cpuOnlyWarning(device.registry.allocators) { logger.warning("\(warning)") }
        logger.info("smafd \(SmafVersion.string) starting on kernel \(value("kernel"))", metadata: [
            "device": "\(device.devicePath)",
            "secure-module": "\(value("secure_module")): \(value("secure_policy"))",
            "allocators": "\(allocators.joined(separator: "; "))",
            "handoff": "\(value("handoff_socket"))",
            "abi-generations": "\(device.generations)\(device.generations == .default ? " (older request numbers get EINVAL)" : "")",
            "limits": """
                buffer size <= \(size(l.maxBufferSize, memory.maxBufferSize)); per user: \(l.maxBuffersPerUser) live buffers, \
                \(size(l.maxBytesPerUser, memory.maxBytesPerUser)); handoff channels per process: \(maxChannelsPerProcess); \
                live buffers also bounded by fs.inotify.max_user_watches
                """,
            "quotas": "\(quotaSummary(device))",
        ])
    }

    /// The allocators that work here (--allocators, --drm-device), ranked
    /// (--rank; the secure module's enforceable ones first), plus --alias names.
    private func makeRegistry(_ module: (any SecureModule)?, _ logger: Logger) throws -> AllocatorRegistry {
        var overrides = try rankOverrides()
        let only = try onlyAllocators()
        var discovery = AllocatorDiscovery(only: only, drmDevices: drmDevices)
        let kmapOverrides = try kernelMappingOverrides()
        discovery.kernelMappingOverrides = kmapOverrides
        if noKernelMappingSelfTest { discovery.makeJudge = nil }
        let found = discovery.discover()
        for s in found.skipped {
            logger.info("allocator \(s.name) not offered: \(s.reason)")
        }
        for note in found.kernelMappingNotes {
            logger.info("\(note)")
        }
        for a in found.allocators where a.properties.kernelMappings.isWrong {
            logger.warning("allocator \(a.name): kernel mappings are wrong (\(a.properties.kernelMappings.source)); devices that use buffers through the kernel never get it")
        }
        for name in kmapOverrides.keys.sorted() where !found.allocators.contains(where: { $0.name == name }) {
            logger.warning("--kernel-mappings \(name): no such allocator works on this host")
        }
        let registry = AllocatorRegistry(securing: module)
        for a in found.allocators {
            try registry.register(overrides.removeValue(forKey: a.name).map { RerankedAllocator(a, ranking: $0) } ?? a)
        }
        for name in overrides.keys.sorted() {
            logger.warning("--rank \(name): no such allocator works on this host")
        }
        if let only {
            for name in only.sorted() where registry.lookup(name) == nil {
                logger.warning("--allocators: \(name) does not work on this host (or is unknown)")
            }
        }
        guard registry.count > 0 else {
            throw ValidationError("no allocator works on this host with --allocators \(allocators ?? "")")
        }
        for (old, new) in try aliasPairs() {
            guard let target = registry.lookup(new) else {
                throw ValidationError("--alias \(old)=\(new): \(new) does not work on this host; working allocators: \(registry.allocators.map(\.name).joined(separator: ", "))")
            }
            do { try registry.register(AllocatorAlias(name: old, target: target)) } catch {
                throw ValidationError("--alias \(old)=\(new): \(error)")
            }
        }
        return registry
    }

    /// Opens /dev/cuse, turning the common failures into one actionable line.
    private func openCUSE() throws -> Int32 {
        let fd = open(cuseDevice, O_RDWR | O_CLOEXEC)
        if fd >= 0 { return fd }
        let err = errno
        let reason: String
        switch err {
        case ENOENT, ENODEV, ENXIO:
            reason = "CUSE is not available on this kernel (\(cuseDevice) is missing): load it with 'modprobe cuse', or, on a kernel built without CUSE, run it in the test VM of a smaf-cuse source checkout: vm/smaf-vm -- .build/debug/smafd --foreground"
        case EACCES, EPERM:
            reason = "cannot open \(cuseDevice): permission denied; smafd must start as root"
        default:
            reason = "cannot open \(cuseDevice): \(String(cString: strerror(err)))"
        }
        var stderrStream = StandardError()
        print("smafd: \(reason)", to: &stderrStream)
        throw ExitCode(1)
    }
}

/// Set once from libfuse's init_done callback, read after the loop ends.
final class ReadyFlag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { fputs(string, stderr) }
}
