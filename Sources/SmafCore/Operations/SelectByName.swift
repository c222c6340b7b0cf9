// SPDX-License-Identifier: MIT
import SmafABI

/// v2's SMAF_IOC_SELECT_BY_NAME (docs/generations.md).
extension SmafDevice {
    /// Binds allocator `name` to a v2 buffer nobody has bound yet. The v2
    /// driver allocated on first use, so the allocator could still change;
    /// here the memory exists since CREATE, so a different allocator means
    /// a new buffer, handed over like a CREATE's (its token in `fd`; the
    /// client library puts it behind the caller's fd number). EINVAL, as on
    /// v2: not a SMAF buffer, unknown name, already bound (selected,
    /// secured, or not made by a v2 CREATE).
    /// Returns the new buffer's token when it moved, nil when it stayed.
    func selectByName(fd: Int32, name: FixedBytes<64>, _ rc: RequestContext, after: inout AfterReply) -> Result<Int32?, SmafErrno> {
        let tid = rc.caller.tid
        guard let identity = environment.fileIdentity(ofFD: fd, inThread: tid) else {
            return .failure(refuse(.EINVAL, rc, "fd \(fd) is not open in thread \(tid)"))
        }
        var bounded = name
        bounded[SmafABI.maxNameLength - 1] = 0
        guard let allocator = registry.lookup(bounded) else {
            return .failure(refuse(.EINVAL, rc, "no allocator named '\(bounded.string)'"))
        }
        // Claimed atomically: of two concurrent selects only one proceeds.
        guard let made = buffers.update(identity, { r -> (String, UInt64, UInt32)? in
            guard r.selectable, r.secure == nil else { return nil }
            r.selectable = false
            return (r.allocator, r.length, r.flags)
        }) else {
            return .failure(refuse(.EINVAL, rc, "fd \(fd) is not a SMAF buffer (\(identity))"))
        }
        guard let (current, length, flags) = made else {
            return .failure(refuse(.EINVAL, rc, "fd \(fd) is already bound to an allocator (selected before, secured, or not made by a v2 CREATE)"))
        }
        if current == allocator.name { return .success(nil) }
        var a = CreateArguments()
        a.length = length
        a.flags = flags
        a.name = FixedBytes(cString: allocator.name)
        switch create(a, rc, after: &after) {
        case .success(let token):
            logger.debug("v2 SELECT_BY_NAME from tid \(tid): fd \(fd) moves from \(current) to \(allocator.name) (a new buffer, handed over)")
            return .success(token)
        case .failure(let e):
            _ = buffers.update(identity) { $0.selectable = true }  // still unbound
            return .failure(e)
        }
    }
}
