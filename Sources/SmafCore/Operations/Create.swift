// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys

#if canImport(Glibc)
import Glibc
#endif

/// SMAF_IOC_CREATE (and the create of EXT_CREATE_FOR, of the older
/// generations' CREATE and of v2's SELECT_BY_NAME): the checks in the
/// driver's order, the choice of allocator, the limits, then the buffer,
/// its watch and its handoff to the caller's process.
extension SmafDevice {
    /// Returns the token the buffer travels under on the handoff channel.
    /// `constraints`: the devices' merged needs (EXT_CREATE_FOR).
    /// `selectable`: a v2 CREATE, whose allocator SELECT_BY_NAME may still pick.
    /// `after` receives smafd's own descriptors of the buffer, to be
    /// watched and closed once the reply is out (finish(_:)).
    func create(_ a: CreateArguments, constraints: DeviceConstraints = DeviceConstraints(), selectable: Bool = false,
                _ rc: RequestContext, after: inout AfterReply) -> Result<Int32, SmafErrno> {
        guard a.version == 0 else { return .failure(refuse(.EINVAL, rc, "version \(a.version) is not 0")) }
        guard a.flags & ~SmafABI.validCreateFlags == 0 else {
            return .failure(refuse(.EINVAL, rc, "flags 0x\(String(a.flags, radix: 16)) have bits outside SMAF_RDWR|SMAF_CLOEXEC (0x\(String(SmafABI.validCreateFlags, radix: 16)))"))
        }
        // Safer than the driver: a 0-byte buffer can never be mapped, and a
        // length near 2^64 would wrap in the page rounding.
        guard a.length > 0 else {
            return .failure(refuse(.EINVAL, rc, "length 0 is refused (a 0-byte buffer can never be mapped)"))
        }
        guard let size = roundedLength(a.length) else {
            return .failure(refuse(.EINVAL, rc, "length \(a.length) overflows page rounding"))
        }
        var named: (any Allocator)?
        if a.name[0] != 0 {
            var name = a.name
            name[SmafABI.maxNameLength - 1] = 0
            named = registry.lookup(name)
            guard named != nil else { return .failure(refuse(.EINVAL, rc, "no allocator named '\(name.string)'")) }
        }
        let caller = rc.caller
        // A CUSE reply cannot carry a file descriptor: without an
        // out-of-band channel to this process the buffer cannot be delivered.
        // A caller whose thread id names a process with a channel is that
        // process's main thread (tids and pids share one number space), so
        // /proc is read only for other threads.
        let pid = handoff?.hasChannel(process: caller.tid) == true
            ? caller.tid : environment.processID(ofThread: caller.tid) ?? caller.tid
        guard let handoff, let lifetime, handoff.hasChannel(process: pid) else {
            warnNoHandoffChannelOnce(pid: pid, caller)
            return .failure(refuse(.ENOTCONN, rc, "process \(pid) has no handoff channel to receive the buffer fd"))
        }
        guard size <= limits.maxBufferSize else {
            return .failure(refuse(.ENOMEM, rc, "limit: \(size) bytes is more than --max-buffer-size \(limits.maxBufferSize)"))
        }
        let readWrite = a.flags & SmafABI.flagRDWR != 0
        let allocator: any Allocator
        switch pickAllocator(named: named, constraints: constraints, size: size, readWrite: readWrite) {
        case .success(let chosen): allocator = chosen
        case .failure(let reason): return .failure(refuse(.EINVAL, rc, reason.text))
        }
        let props = allocator.properties
        // The owner's limits are looked at before memory is committed (the
        // insert below decides, so concurrent CREATEs cannot overshoot).
        // Buffers closed a moment ago may still count: forgotten first.
        if buffers.wouldExceed(uid: caller.uid, length: size, within: limits) != nil { forgetEnded() }
        if let e = buffers.wouldExceed(uid: caller.uid, length: size, within: limits) {
            return .failure(refuse(e, rc, limitReason(caller)))
        }
        if !props.lazy, let available = headroom.shortfall(for: size) {
            return .failure(refuse(.ENOMEM, rc, """
                \(allocator.name) commits every page at once and \(size) bytes would leave less than \
                \(headroom.reserve) of the \(available) bytes of memory available
                """))
        }
        // Quotas: charged before the memory is taken, given back below if the
        // buffer never reaches the table (QuotaLedger).
        let quota: QuotaCharge?
        var charged = chargeQuota(caller, pid: pid, bytes: size, allocator: allocator)
        if case .failure = charged {
            forgetEnded()
            charged = chargeQuota(caller, pid: pid, bytes: size, allocator: allocator)
        }
        switch charged {
        case .success(let q): quota = q
        case .failure(let refusal): return .failure(refuse(.ENOMEM, rc, refusal.description))
        }
        var quotaHandedOver = false
        defer { if !quotaHandedOver, let quota { lifetime.quotas?.release(quota) } }
        let serial = nextToken.add(1, ordering: .relaxed).newValue
        let buffer: OwnedFD
        var prepared: FileIdentity?
        do throws(AllocationFailure) {
            if allocator.usesPlainMemfd, let p = pool?.take() {
                prepared = p.identity
                try MemfdAllocator.sizeAndSeal(p.fd.raw, length: size)
                buffer = p.fd
            } else if let exports, exports.pools(allocator, length: size, readWrite: readWrite),
                      let p = exports.take(allocator, length: size) {
                prepared = p.identity
                buffer = p.fd
            } else {
                buffer = try allocator.allocate(AllocationRequest(length: size, readWrite: readWrite, recipient: pid))
            }
        } catch {
            return .failure(refuse(error.errno, rc, "\(allocator.name) could not allocate \(size) bytes: \(error.reason)"))
        }
        // Named so fdinfo, /proc/PID/fd links and debugfs show whose it is.
        if props.dmabuf, smaf_sys_dmabuf_set_name(buffer.raw, "smaf:\(caller.uid):\(serial)") != 0 {
            logger.debug("could not name a \(allocator.name) buffer: \(String(cString: strerror(errno)))")
        }
        // Without SMAF_RDWR the caller gets a read-only file, so a writable
        // shared mapping fails with EACCES as on the driver: dma-buf
        // exporters make one themselves; a memfd is reopened read-only.
        var readOnly: OwnedFD? = nil
        var handle = buffer.raw
        if !readWrite && props.lifetime == .inode {
            handle = open("/proc/self/fd/\(buffer.raw)", O_RDONLY | O_CLOEXEC)
            guard handle >= 0 else { return .failure(refuse(.ENOMEM, rc, "cannot reopen the buffer read-only")) }
            readOnly = OwnedFD(handle)
        }
        var record = BufferRecord(length: size, flags: a.flags, allocator: allocator.name, ownerUID: caller.uid)
        record.selectable = selectable
        record.stamp(creator: pid, quota: quota)
        // The record goes in before the buffer goes out (the caller may ask
        // about it at once); the watch waits for the reply (AfterReply).
        let identity: FileIdentity
        do throws(SmafErrno) {
            if let prepared { identity = prepared } else { identity = try BufferLifetime.identify(fd: buffer.raw) }
            try lifetime.record(record, for: identity, within: limits)
        } catch {
            return .failure(refuse(error, rc, error == .EMFILE || error == .ENOMEM ? limitReason(caller) : "cannot track the new buffer"))
        }
        quotaHandedOver = true  // the record has it now; BufferLifetime gives it back
        // Near the watch limit, the watch comes first, so its failure is ENOSPC.
        var watched = prepared != nil
        if !watched && lifetime.watchesAreScarce {
            do throws(SmafErrno) {
                try lifetime.watch(fd: buffer.raw, kind: props.lifetime, as: identity)
                watched = true
            } catch {
                lifetime.forget(identity)
                return .failure(refuse(error, rc, "cannot watch the new buffer"))
            }
        }
        // The fd field carries a token (<= -2, never an fd number) that names
        // the message the buffer travels in; the client swaps in the real fd.
        let token = -2 - Int32(bitPattern: serial & 0x3FFF_FFFF)
        if let e = handoff.deliver(fd: handle, token: token, flags: a.flags, length: size, to: pid) {
            lifetime.forget(identity)
            return .failure(refuse(e, rc, "the buffer could not be sent to process \(pid)"))
        }
        // From now on the kernel keeps the buffer alive for the caller;
        // smafd's own descriptors close after the reply, once it is watched.
        after.keep(buffer, readOnly: readOnly, watch: watched ? nil : (identity, props.lifetime))
        return .success(token)
    }

    private struct NoAllocator: Error { let text: String }

    /// The allocator a CREATE uses: the named one if it can make such a
    /// buffer at all, else the registry's choice for the constraints.
    private func pickAllocator(named: (any Allocator)?, constraints: DeviceConstraints, size: UInt64,
                               readWrite: Bool) -> Result<any Allocator, NoAllocator> {
        if let named {
            // A named buffer uses that allocator unconditionally (as the
            // driver did), as far as it can make such a buffer at all.
            let p = named.properties
            guard size <= p.maxSize else {
                return .failure(NoAllocator(text: "\(named.name) makes buffers of at most \(p.maxSize) bytes; \(size) asked"))
            }
            guard readWrite || p.readOnly else {
                return .failure(NoAllocator(text: "\(named.name) cannot make read-only buffers (its exports are always writable); ask for SMAF_RDWR"))
            }
            return .success(named)
        }
        if let chosen = registry.choose(for: constraints, length: size, readWrite: readWrite) { return .success(chosen) }
        let kind = "a \(readWrite ? "" : "read-only ")buffer of \(size) bytes"
        guard registry.count > 0 else { return .failure(NoAllocator(text: "no allocator is registered")) }
        guard constraints.devices > 0 else { return .failure(NoAllocator(text: "no allocator can make \(kind)")) }
        var text = "no allocator meets the devices' constraints: " + registry.allocators.map {
            "\($0.name) cannot give \($0.unmetConstraint(constraints, length: size) ?? kind)"
        }.joined(separator: "; ")
        if constraints.combinedNeeds.count > 1 && !registry.allocators.contains(where: { constraints.givesCombinedNeeds($0.properties) }) {
            text += "; the devices need \(constraints.combinedNeeds.joined(separator: " and ")), and no allocator on this kernel gives both"
        }
        return .failure(NoAllocator(text: text))
    }

    private func limitReason(_ caller: Caller) -> String {
        "limit: uid \(caller.uid) is at --max-buffers-per-user \(limits.maxBuffersPerUser) or --max-bytes-per-user \(limits.maxBytesPerUser)"
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
}
