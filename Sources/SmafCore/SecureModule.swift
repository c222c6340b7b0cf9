// SPDX-License-Identifier: MIT
import SmafABI
import CSmafSys

#if canImport(Glibc)
import Glibc
#endif

/// A per-buffer context a secure module hands out when a buffer becomes
/// secure.
public final class SecureContext: Sendable {
    public let module: String
    init(module: String) { self.module = module }
}

/// The direction of an access, as the kernel's DMA API names it (the driver's
/// rule: derived from PROT bits, R -> to device, W -> from device, RW -> both).
public enum AccessDirection: Int32, Sendable {
    case bidirectional = 0, toDevice = 1, fromDevice = 2
}

/// A buffer a secure module is about to act on, as the caller holds it.
public struct BufferAccess {
    let tid: Int32
    let fd: Int32
    /// A new read-write handle on the caller's buffer (through /proc), which
    /// the caller of this method closes; nil if the fd cannot be reopened.
    public func reopenReadWrite() -> OwnedFD? {
        OwnedFD.open("/proc/\(tid)/fd/\(fd)", O_RDWR)
    }
}

/// The single secure module of a daemon. Its decisions on CPU
/// access are what make mmap of a secure buffer succeed or fail.
public protocol SecureModule: Sendable {
    var name: String { get }
    /// What the policy enforces, in a sentence, for logs and `--help`.
    var summary: String { get }
    /// Enforcement to apply before a buffer becomes secure; an errno refuses
    /// the SET and leaves the buffer as it was.
    func willSecure(_ buffer: BufferAccess) -> SmafErrno?
    /// Whether the policy can be enforced on buffers with these properties;
    /// SET_SECURE_FLAG(1) is refused on the others (never report a buffer
    /// secure that is not), and the registry ranks these first.
    func canEnforce(on buffers: AllocatorProperties) -> Bool
    func createContext() -> SecureContext?
    /// false keeps the buffer secure and SET_SECURE(0) fails with EINVAL.
    func destroyContext(_ context: SecureContext) -> Bool
    func grantCPUAccess(_ context: SecureContext, direction: AccessDirection) -> Bool
}

/// smaf-testsecure semantics: "secure" is bookkeeping only and
/// every access, the CPU's included, is granted.
public struct TestSecureModule: SecureModule {
    public let name = "testsecure"
    public let summary = "secure is a flag only; CPU mappings of secure buffers are allowed"
    public init() {}
    public func willSecure(_ buffer: BufferAccess) -> SmafErrno? { nil }
    public func canEnforce(on buffers: AllocatorProperties) -> Bool { true }
    public func createContext() -> SecureContext? { SecureContext(module: name) }
    public func destroyContext(_ context: SecureContext) -> Bool { true }
    public func grantCPUAccess(_ context: SecureContext, direction: AccessDirection) -> Bool { true }
}

/// The OP-TEE-era behaviour (without runtime device support):
/// CPU writes to a secure buffer are refused (the memfd write seal); reads stay allowed. A userspace daemon sees no
/// mmap, so the kernel enforces it: securing adds the memfd write seal, after
/// which writable shared mappings and write(2) fail with EPERM. The kernel
/// refuses the seal while a writable shared mapping exists (EBUSY), and a
/// seal can never be removed, so un-securing clears the flag but the buffer
/// stays write-sealed. Only memfds take seals: dma-bufs (heap, udmabuf, DRM)
/// and secretmem buffers cannot be secured under this policy.
public struct DenyCPUSecureModule: SecureModule {
    public let name = "deny-cpu"
    public let summary = "CPU writes to secure buffers are refused (memfd write seal; permanent)"
    public init() {}
    public func willSecure(_ buffer: BufferAccess) -> SmafErrno? {
        guard let fd = buffer.reopenReadWrite() else { return .EINVAL }
        if smaf_sys_add_seals(fd.raw, SMAF_SEAL_WRITE) == 0 { return nil }
        return errno == EBUSY ? .EBUSY : .EINVAL
    }
    public func canEnforce(on buffers: AllocatorProperties) -> Bool { buffers.writeSealable }
    public func createContext() -> SecureContext? { SecureContext(module: name) }
    public func destroyContext(_ context: SecureContext) -> Bool { true }
    public func grantCPUAccess(_ context: SecureContext, direction: AccessDirection) -> Bool { false }
}

/// The `--secure-module` choices.
public enum SecurePolicy: String, CaseIterable, Sendable {
    case testsecure
    case denyCPU = "deny-cpu"
    case none

    public func makeModule() -> (any SecureModule)? {
        switch self {
        case .testsecure: return TestSecureModule()
        case .denyCPU: return DenyCPUSecureModule()
        case .none: return nil
        }
    }
}
