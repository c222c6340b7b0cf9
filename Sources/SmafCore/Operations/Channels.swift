// SPDX-License-Identifier: MIT
import SmafABI

/// The extension requests that set up a process's handoff channel:
/// SMAF_IOC_EXT_CONNECT (a socketpair end smafd takes) and
/// SMAF_IOC_EXT_HANDOFF (where the listening socket is).
extension SmafDevice {
    func connect(sock: Int32, _ rc: RequestContext) -> Result<Void, SmafErrno> {
        guard let handoff else { return .failure(refuse(.EINVAL, rc, "this smafd has no handoff channels")) }
        let caller = rc.caller
        let pid = environment.processID(ofThread: caller.tid) ?? caller.tid
        let taken: Int32
        switch environment.takeFD(sock, ofProcess: pid) {
        case .success(let fd): taken = fd
        case .failure(let e):
            return .failure(refuse(e, rc, e == .EBADF ? "sock \(sock) is not open in process \(pid)"
                                   : "cannot take fd \(sock) of process \(pid): pidfd_getfd failed: "
                                     + "Linux 5.6+, CAP_SYS_PTRACE and a seccomp filter that allows it are needed; the client falls back to the socket path"))
        }
        if let (e, reason) = handoff.adopt(socket: OwnedFD(taken), process: pid, uid: caller.uid) {
            return .failure(refuse(e, rc, "sock \(sock) of process \(pid): \(reason)"))
        }
        return .success(())
    }

    func handoffSocket(_ rc: RequestContext) -> Result<SmafReply, SmafErrno> {
        guard let handoff else { return .failure(refuse(.EINVAL, rc, "this smafd has no handoff socket")) }
        return .success(.handoffSocket(protocolVersion: HandoffProtocol.version, path: handoff.socketPath))
    }
}
