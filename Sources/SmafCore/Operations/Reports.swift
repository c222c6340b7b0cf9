// SPDX-License-Identifier: MIT
import SmafABI

#if canImport(Glibc)
import Glibc
#endif

/// What smafd tells operators: SMAF_IOC_EXT_STATUS, and the JSON answers
/// to the handoff channel's queries (smafctl info, status, create).
extension SmafDevice {
    /// SMAF_IOC_EXT_STATUS: live buffers and channels.
    var statusAnswer: StatusAnswer {
        forgetEnded()
        let t = buffers.totals
        var s = StatusAnswer()
        s.liveBuffers = UInt64(t.buffers)
        s.liveBytes = t.bytes
        s.channels = UInt32(handoff?.channelCount ?? 0)
        s.secureBuffers = UInt32(t.secure)
        s.createdTotal = lifetime?.createdTotal ?? 0
        s.readyAhead = UInt64(pool?.count ?? 0) + UInt64(exports?.shelved.buffers ?? 0)
        return s
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

    /// What this daemon is: version, node, kernel, secure module, allocators.
    public func info() -> JSONValue {
        .object([
            ("version", .string(SmafVersion.string)),
            ("device", .string(devicePath)),
            ("kernel", .string(kernelRelease())),
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
        forgetEnded()
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
            ("ahead", aheadStatus),
        ])
    }

    /// What was made ahead of the requests (ExportPool, MemfdPool) and how
    /// often buffer ends had to be re-scanned (BufferLifetime.rescan).
    private var aheadStatus: JSONValue {
        var fields: [(String, JSONValue)] = [("memfds_ready", .uint(UInt64(pool?.count ?? 0)))]
        if let exports {
            let c = exports.counts, s = exports.shelved
            fields += [("exports_ready", .uint(UInt64(s.buffers))), ("exports_eager_bytes", .uint(s.eagerBytes)),
                       ("exports_budget", .uint(exports.budget)), ("exports_hits", .uint(c.hits)),
                       ("exports_misses", .uint(c.misses)), ("exports_made", .uint(c.made))]
        }
        fields.append(("inotify_rescans", .uint(lifetime?.rescanCount ?? 0)))
        return .object(fields)
    }

    /// How many times a request number came (tests).
    public func requestCount(_ number: UInt32) -> UInt64? { counters.withLock { $0.count(of: number) } }
}
