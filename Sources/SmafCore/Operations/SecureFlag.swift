// SPDX-License-Identifier: MIT
import SmafABI

/// SMAF_IOC_GET_SECURE_FLAG and SMAF_IOC_SET_SECURE_FLAG, of every generation.
extension SmafDevice {
    /// The buffer's secure flag (0 or 1).
    func getSecureFlag(_ a: SecureFlagArguments, _ rc: RequestContext) -> Result<UInt32, SmafErrno> {
        guard a.version == 0 else { return .failure(refuse(.EINVAL, rc, "version \(a.version) is not 0")) }
        guard a.fd != -1 else { return .failure(refuse(.EINVAL, rc, "fd is -1")) }
        let tid = rc.caller.tid
        // The driver oopsed on fds that do not resolve; refuse them instead.
        guard let identity = environment.fileIdentity(ofFD: a.fd, inThread: tid) else {
            return .failure(refuse(.EINVAL, rc, "fd \(a.fd) is not open in thread \(tid)"))
        }
        // Any open file that is not one of our buffers reads as "not secure",
        // like a foreign dma-buf on the driver; except a buffer an earlier
        // smafd instance made: it may be secure (deny-cpu's seal outlives the
        // daemon), so "0" could be a wrong answer. Refuse instead.
        guard let record = buffers.record(for: identity) else {
            if environment.looksLikeSmafBuffer(fd: a.fd, inThread: tid) {
                return .failure(refuse(.EINVAL, rc, "fd \(a.fd) is a buffer of an earlier smafd instance; its secure state is unknown here"))
            }
            return .success(0)
        }
        return .success(record.secure != nil ? 1 : 0)
    }

    /// Secures the buffer through the secure module, or releases it.
    func setSecureFlag(_ a: SecureFlagArguments, _ rc: RequestContext) -> Result<Void, SmafErrno> {
        guard let module = secureModule else {  // the dispatcher checked it already; kept for clarity
            return .failure(refuse(.EINVAL, rc, "no secure module is loaded"))
        }
        guard a.version == 0 else { return .failure(refuse(.EINVAL, rc, "version \(a.version) is not 0")) }
        let tid = rc.caller.tid
        guard let identity = environment.fileIdentity(ofFD: a.fd, inThread: tid) else {
            return .failure(refuse(.EINVAL, rc, "fd \(a.fd) is not open in thread \(tid)"))
        }
        let wantSecure = a.secure != 0
        // Never report a buffer secure that the policy cannot enforce (a
        // deny-cpu seal does not apply to a dma-buf): refuse with EINVAL.
        if wantSecure, let record = buffers.record(for: identity), record.secure == nil,
           let props = registry.lookup(record.allocator)?.properties, !module.canEnforce(on: props) {
            return .failure(refuse(.EINVAL, rc,
                                   "\(module.name) cannot be enforced on \(record.allocator) buffers (\(props.backing)); the buffer stays non-secure"))
        }
        var failure = SmafErrno.EINVAL
        let outcome: String? = buffers.update(identity) { record -> String? in
            if wantSecure {
                if record.secure != nil { return nil }  // idempotent
                if let e = module.willSecure(BufferAccess(tid: tid, fd: a.fd)) {
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
        } ?? "fd \(a.fd) is not a SMAF buffer (\(identity))"
        if let reason = outcome { return .failure(refuse(failure, rc, reason)) }
        return .success(())
    }
}
