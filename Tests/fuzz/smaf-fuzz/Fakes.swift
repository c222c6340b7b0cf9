// SPDX-License-Identifier: MIT
import SmafABI
import Logging
import SmafCore

// The world the fuzzed dispatcher sees: no /proc, no handoff socket, no
// memfds. Everything here is deterministic in the fuzz input.

/// Four buffers every input starts with (recorded in the BufferTable, some
/// secure); fds 0-3 are always these, in every thread.
let recordedBuffers = (0..<4).map { FileIdentity(device: 0x5A, inode: 100 + UInt64($0)) }

/// fd numbers resolve by class (see `FuzzEnvironment.fileIdentity`).
enum FDClass: String {
    case recordedBuffer = "SMAF buffer"
    case otherFile = "open, not a SMAF buffer"
    case forgottenBuffer = "a buffer smafd no longer records"
    case notOpen = "not open"
}

/// A caller environment whose fd tables are a pure function of (seed, fd,
/// tid): fds 0-3 are the recorded buffers, 4-7 open non-buffer files, 8-11
/// not open, every other fd >= 0 is chosen by a hash; negative fds and
/// tids <= 0 never resolve (as with /proc).
struct FuzzEnvironment: CallerEnvironment {
    let seed: UInt8

    func fdClass(_ fd: Int32, inThread tid: Int32) -> (FDClass, FileIdentity?) {
        guard fd >= 0, tid > 0 else { return (.notOpen, nil) }
        let slot: UInt32
        switch fd {
        case 0..<4: slot = 0
        case 4..<8: slot = 5
        case 8..<12: slot = 7
        default: slot = (UInt32(bitPattern: fd) &* 2_654_435_761 ^ UInt32(seed) &* 40_503) >> 29  // 0...7
        }
        switch slot {
        case 0, 1, 2: return (.recordedBuffer, recordedBuffers[Int(fd & 3)])
        case 3: return (.forgottenBuffer, FileIdentity(device: 0x5A, inode: 200 + UInt64(fd & 3)))
        case 4, 5: return (.otherFile, FileIdentity(device: 0x77, inode: UInt64(UInt32(bitPattern: fd))))
        default: return (.notOpen, nil)
        }
    }

    func fileIdentity(ofFD fd: Int32, inThread tid: Int32) -> FileIdentity? { fdClass(fd, inThread: tid).1 }

    /// Open non-buffer files with an even fd are character devices (major
    /// 81, minor fd % 8); every other open file is not a device.
    func device(ofFD fd: Int32, inThread tid: Int32) -> DeviceLookup {
        switch fdClass(fd, inThread: tid).0 {
        case .notOpen: return .notOpen
        case .otherFile where fd & 1 == 0: return .device(major: 81, minor: UInt32(fd & 7))
        default: return .notCharacterDevice
        }
    }

    /// Odd seeds: every thread is its process's main thread; even seeds: a
    /// made-up thread group, and tids divisible by 7 are gone.
    func processID(ofThread tid: Int32) -> Int32? {
        guard tid > 0 else { return nil }
        if seed & 1 == 1 { return tid }
        return tid % 7 == 0 ? nil : tid / 2 + 1
    }
}

/// Device facts by minor number: minors with bit 2 set need contiguous memory, minors
/// with bit 1 set address 32 bits.
struct FuzzDeviceFacts: DeviceFactSource {
    func facts(major: UInt32, minor: UInt32) -> DeviceFacts {
        var f = DeviceFacts(device: "c \(major):\(minor)")
        f.contiguous = minor & 4 != 0
        if minor & 2 != 0 { f.dmaMaskBits = 32 }
        f.sources = DeviceFactSources.udev
        return f
    }
}

/// A secure module whose decisions come from the input, to reach every
/// branch of SET_SECURE_FLAG (refusal by willSecure, no context, a context
/// that cannot be destroyed) without touching any real file.
struct ScriptedSecureModule: SecureModule {
    let name = "scripted"
    let summary = "decisions scripted by the fuzz input"
    let willSecureResult: SmafErrno?
    let contextFails: Bool
    let destroyRefuses: Bool
    /// Enforceable only on sealable buffers, like deny-cpu.
    let sealOnly: Bool

    func willSecure(_ buffer: BufferAccess) -> SmafErrno? { willSecureResult }
    func canEnforce(on buffers: AllocatorProperties) -> Bool { !sealOnly || buffers.writeSealable }
    func createContext() -> SecureContext? { contextFails ? nil : TestSecureModule().createContext() }
    func destroyContext(_ context: SecureContext) -> Bool { !destroyRefuses }
    func grantCPUAccess(_ context: SecureContext, direction: AccessDirection) -> Bool { true }
}

/// Logs at every level and renders every message (so the refusal reasons,
/// which interpolate fuzzed fields, are built and checked too), then drops
/// them; with `verbose` (the replay mode's -v) it prints them.
struct RenderingLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let text = "\(event.message)"
        if verbose { print("    log \(event.level): \(text)") }
    }
}

let fuzzLogger = Logger(label: "smaf-fuzz") { _ in RenderingLogHandler() }

/// Registries to choose from (immutable once built, so shared by all inputs).
let registries: [AllocatorRegistry] = {
    let empty = AllocatorRegistry()
    let memfd = AllocatorRegistry()
    try! memfd.register(MemfdAllocator())
    // docs/operations.md's --alias smaf-cma=smaf-memfd: two names, index 0 is smaf-cma.
    let aliased = AllocatorRegistry()
    try! aliased.register(MemfdAllocator())
    try! aliased.register(AllocatorAlias(name: "smaf-cma", target: MemfdAllocator()))
    // A dma-buf exporter as smafd declares udmabuf: not sealable, never
    // read-only, at most 64 KiB, ranked first.
    let dmabuf = AllocatorRegistry()
    try! dmabuf.register(MemfdAllocator())
    try! dmabuf.register(FakeDmabufAllocator())
    return [empty, memfd, aliased, dmabuf]
}()

struct FakeDmabufAllocator: Allocator {
    let name = "smaf-fake-dmabuf"
    let ranking: Int32 = 50
    let properties = AllocatorProperties(dmabuf: true, contiguous: false, lazy: false, maxSize: 65536, readOnly: false,
                                         writeSealable: false, lifetime: .lastClose, backing: "fuzz fake")
    func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD {
        throw AllocationFailure(.ENOMEM, "the fuzz target never delivers a buffer")
    }
}

/// Allocator names in each registry, in GET_INFO order, for the checks.
let registryNames: [[String]] = registries.map { $0.allocators.map(\.name) }
