// SPDX-License-Identifier: MIT
import SmafABI
import CFuse
import Logging
import SmafCore

#if canImport(Glibc)
import Glibc
#endif

/// Why a CUSE session could not be set up.
public struct CUSEError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The thin layer between libfuse's CUSE low-level API and `SmafDevice`:
/// it turns FUSE requests into dispatcher calls and dispatcher results into
/// FUSE replies, and nothing else.
public final class CUSEServer {
    public let device: SmafDevice
    public let deviceName: String
    let logger: Logger
    /// Runs once the kernel has accepted CUSE_INIT, i.e. the node exists.
    let onReady: () -> Void
    private var session: OpaquePointer?

    public init(device: SmafDevice, deviceName: String, logger: Logger, onReady: @escaping () -> Void = {}) {
        self.device = device
        self.deviceName = deviceName
        self.logger = logger
        self.onReady = onReady
    }

    deinit {
        if let se = session { fuse_session_destroy(se) }
    }

    /// Creates the libfuse session that will announce DEVNAME=<deviceName>
    /// with restricted ioctls (every SMAF request is a fixed-size _IOWR).
    public func makeSession() throws {
        precondition(session == nil, "session already made")
        routeLibfuseLog(to: logger)
        var ops = cuse_lowlevel_ops()
        ops.init_done = cuseInitDone
        ops.open = cuseOpen
        ops.release = cuseRelease
        ops.read = cuseRead
        ops.write = cuseWrite
        ops.ioctl = cuseIoctl

        let devInfo = strdup("DEVNAME=\(deviceName)")
        let progName = strdup("smafd")
        defer { free(devInfo); free(progName) }
        var infoArgv: [UnsafePointer<CChar>?] = [UnsafePointer(devInfo)]
        var argv: [UnsafeMutablePointer<CChar>?] = [progName, nil]
        let se: OpaquePointer? = infoArgv.withUnsafeMutableBufferPointer { infoBuf in
            argv.withUnsafeMutableBufferPointer { argvBuf in
                var info = cuse_info()
                info.dev_info_argc = 1
                info.dev_info_argv = infoBuf.baseAddress
                info.flags = 0  // restricted ioctl mode
                var args = fuse_args(argc: 1, argv: argvBuf.baseAddress, allocated: 0)
                // libfuse copies the ops and the device info into the session.
                return cuse_lowlevel_new(&args, &info, &ops, Unmanaged.passUnretained(self).toOpaque())
            }
        }
        guard let se else { throw CUSEError("libfuse could not create a CUSE session") }
        session = se
    }

    /// Serves an open /dev/cuse file descriptor (the session owns it after this).
    public func attach(cuseFD fd: Int32) throws {
        guard let se = session else { throw CUSEError("no session") }
        // libfuse treats the mount point /dev/fd/N as "already open, use fd N".
        guard fuse_session_mount(se, "/dev/fd/\(fd)") == 0 else {
            throw CUSEError("libfuse refused the /dev/cuse descriptor \(fd)")
        }
    }

    /// Serves a message-preserving stream (a SOCK_SEQPACKET socket) instead of
    /// /dev/cuse: whoever holds the other end plays the kernel. This is how the
    /// kernel-less tests drive the real libfuse session.
    public func attach(messageSocketFD fd: Int32) throws {
        guard let se = session else { throw CUSEError("no session") }
        var io = fuse_custom_io()
        io.read = { fd, buf, len, _ in
            let n = Glibc.read(fd, buf, len)
            // End of stream means the "kernel" went away: report it the way
            // /dev/cuse does (ENODEV), which ends the session loop cleanly.
            if n == 0 { errno = ENODEV; return -1 }
            return n
        }
        io.writev = { fd, iov, count, _ in Glibc.writev(fd, iov, count) }
        let r = fuse_session_custom_io(se, &io, fd)
        guard r == 0 else { throw CUSEError("fuse_session_custom_io failed: \(r)") }
    }

    /// Runs the session loop until the transport closes or `exit()` is called.
    /// Returns 0 on a clean end.
    public func run(multithreaded: Bool = true) -> Int32 {
        guard let se = session else { return -1 }
        return multithreaded ? smaf_fuse_session_loop_mt(se) : fuse_session_loop(se)
    }

    /// Makes SIGINT, SIGTERM and SIGHUP end the loop (libfuse's handlers).
    public func installSignalHandlers() -> Bool {
        guard let se = session else { return false }
        return fuse_set_signal_handlers(se) == 0
    }

    public func removeSignalHandlers() {
        if let se = session { fuse_remove_signal_handlers(se) }
    }

    public func exit() {
        if let se = session { fuse_session_exit(se) }
    }

    /// Destroys the session and closes the transport, which removes the node.
    public func close() {
        if let se = session {
            fuse_session_destroy(se)
            session = nil
        }
    }

    // MARK: - Request handling

    fileprivate func handleIoctl(_ req: fuse_req_t, cmd: Int32, flags: UInt32,
                                 inBuf: UnsafeRawPointer?, inSize: Int, outSize: Int) {
        // libfuse 3.14 passes the request as a signed int; SMAF numbers have bit 31 set.
        let request = UInt32(bitPattern: cmd)
        let ctx = fuse_req_ctx(req)!.pointee
        let caller = Caller(tid: ctx.pid, uid: ctx.uid, gid: ctx.gid, compat: flags & UInt32(FUSE_IOCTL_COMPAT) != 0)
        if flags & UInt32(FUSE_IOCTL_UNRESTRICTED) != 0 {
            logger.debug("refused unrestricted ioctl 0x\(String(request, radix: 16)) from tid \(caller.tid): the device is in restricted mode")
            fuse_reply_err(req, EINVAL)
            return
        }
        let input = UnsafeRawBufferPointer(start: inBuf, count: inBuf == nil ? 0 : inSize)
        // Every SMAF struct fits (smafd's extensions are the largest); the
        // reply never exceeds what the kernel asked for (out_size).
        // A CREATE's watch and smafd's closes wait until the caller has its reply.
        var after = AfterReply()
        withUnsafeTemporaryAllocation(byteCount: SmafExtensionRequest.largestStructSize, alignment: 8) { scratch in
            let output = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(outSize, scratch.count)])
            switch device.ioctl(request: request, input: input, output: output, caller: caller, after: &after) {
            case .success(let n):
                fuse_reply_ioctl(req, 0, n > 0 ? UnsafeRawPointer(output.baseAddress) : nil, n)
            case .failure(let e):
                fuse_reply_err(req, e.rawValue)
            }
        }
        device.finish(after)
    }

    fileprivate func handleInitDone() {
        logger.info("serving /dev/\(deviceName)", metadata: [
            "allocators": "\(device.registry.allocators.map(\.name).joined(separator: ","))",
            "secure-module": "\(device.secureModule?.name ?? "none")",
        ])
        onReady()
    }
}

// MARK: - C callbacks (no captures: the server comes back through userdata)

private func server(_ req: fuse_req_t) -> CUSEServer {
    Unmanaged<CUSEServer>.fromOpaque(fuse_req_userdata(req)).takeUnretainedValue()
}

private let cuseInitDone: @convention(c) (UnsafeMutableRawPointer?) -> Void = { userdata in
    guard let userdata else { return }
    Unmanaged<CUSEServer>.fromOpaque(userdata).takeUnretainedValue().handleInitDone()
}

// Opening /dev/smaf creates no per-open state.
private let cuseOpen: @convention(c) (fuse_req_t?, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, fi in
    fuse_reply_open(req, fi)
}

private let cuseRelease: @convention(c) (fuse_req_t?, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, _ in
    fuse_reply_err(req, 0)
}

// The driver has no read or write; the VFS answers EINVAL for those.
private let cuseRead: @convention(c) (fuse_req_t?, Int, off_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, _, _, _ in
    fuse_reply_err(req, EINVAL)
}

private let cuseWrite: @convention(c) (fuse_req_t?, UnsafePointer<CChar>?, Int, off_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = { req, _, _, _, _ in
    fuse_reply_err(req, EINVAL)
}

private let cuseIoctl: @convention(c) (fuse_req_t?, Int32, UnsafeMutableRawPointer?, UnsafeMutablePointer<fuse_file_info>?, UInt32, UnsafeRawPointer?, Int, Int) -> Void = { req, cmd, _, _, flags, inBuf, inSize, outSize in
    guard let req else { return }
    server(req).handleIoctl(req, cmd: cmd, flags: flags, inBuf: inBuf, inSize: inSize, outSize: outSize)
}
