// SPDX-License-Identifier: MIT
import SmafABI
// smaf-fuzz: libFuzzer target over SmafCore's transport-free dispatcher
// (`SmafDevice.ioctl`) and the struct codec. Built two ways (scripts/fuzz):
//   * `swift build --sanitize=fuzzer --sanitize=address -Xswiftc -DSMAF_LIBFUZZER`:
//     libFuzzer's own main drives `LLVMFuzzerTestOneInput` below;
//   * a plain `swift build`: Replay.swift's main runs files and directories
//     of inputs through the same function (`smaf-fuzz [-v] PATH...`).
//
// Input format (integers little-endian; bytes past the end read as 0):
//   header, 4 bytes
//     h0  secure module, bits 0-1: 0 none, 1 testsecure, 2 deny-cpu (the real
//         module; callers' tids > 0 get bit 30 set, beyond any pid, so its
//         /proc/<tid>/fd/<fd> re-open never reaches a real process), 3 scripted:
//         bits 2-3 willSecure (1 EBUSY, 2 EINVAL, else allowed), bit 4
//         createContext fails, bit 5 destroyContext refuses, bit 6 the
//         policy is enforceable on sealable buffers only (like deny-cpu)
//     h1  bits 0-1 registry (0 empty, 1 smaf-memfd, 2 smaf-memfd +
//         smaf-cma, 3 smaf-memfd + smaf-fake-dmabuf, declared like udmabuf,
//         which then made recorded buffer 3); bits 2-3 page size 4 KiB << 2n
//     h2  fd-table seed (FuzzEnvironment: fds 0-3 recorded buffers, 4-7 other
//         files, 8-11 not open, others hashed with the seed)
//     h3  bits 0-3: which of the 4 recorded buffers start secure; bit 4:
//         every older ABI generation enabled (--abi-generations all)
//   then operations (at most 16), each
//     k   bits 0-3 request: 0 CREATE, 1 GET_SECURE_FLAG, 2 SET_SECURE_FLAG,
//         3 GET_INFO, 4 EXT_HANDOFF, 5 EXT_STATUS, 6 EXT_CREATE_FOR,
//         7 EXT_DEVICES (device fds resolve as FuzzEnvironment.device says), 8 a legacy number (+1 byte: which, mod 14),
//         9 an 'S'-type number (+u32: its dir, size and nr bits),
//         10 a known number with one bit flipped (+1 byte number, +1 byte bit),
//         11-15 any number (+u32)
//         bit 4: zero the struct's version field (input bytes 0-7)
//         bits 5-6 sizes: 0 as the kernel derives them from the number (in =
//         size if _IOC_WRITE, out = size if _IOC_READ), 1 the request's own
//         struct size both ways (128 for unknown numbers), 2 explicit (+u16 in,
//         +u16 out, each mod 1024), 3 no input at all (nil pointer, 0 bytes),
//         output as in 0
//         bit 7: explicit output capacity (+u16, mod 1024), overriding
//     caller: tid u32, uid u32, gid u32
//     the input bytes (as many as the in size)
// Tests/fuzz/make-corpus.py writes seeds in this format.
//
// Invariants (a violation traps, which libFuzzer reports as a crash):
//   * success: returned count <= output capacity and == the struct size (0
//     for SET_SECURE_FLAG); failure: errno in {EINVAL, EFAULT, ENOTCONN,
//     EBUSY, ENOMEM, ENOSPC, EAGAIN, EMFILE, EPERM};
//   * nothing is written past the output capacity (64-byte guard zone), and
//     a refused v10 request writes nothing at all (the driver copies nothing
//     back on error);
//   * the outcome matches a reference model of the documented (docs/differences.md, smaf(4))
//     checks: which requests succeed, EINVAL for malformed ones, never EINVAL
//     (today ENOTCONN) for a well-formed CREATE without a handoff channel,
//     echoed reserved fields, GET_INFO's count and name, GET_SECURE_FLAG
//     agreeing with every earlier SET, EXT_STATUS's totals;
//   * the buffer table agrees with the model after every operation;
//   * codec: a 128/64/128-byte window decodes and re-encodes to the same
//     bytes, decoding needs exactly the struct size, encode(into:) refuses a
//     short buffer without writing to it.
import Logging
import SmafCore

#if canImport(Glibc)
import Glibc
#endif

/// Set by the replay mode's -v: print every operation and log line.
nonisolated(unsafe) var verbose = false

/// Counts for the replay summary.
struct Stats {
    var inputs = 0, operations = 0, successes = 0
    var refusals: [Int32: Int] = [:]
    var successesByRequest: [String: Int] = [:]
}
nonisolated(unsafe) var stats = Stats()

let allowedErrnos: Set<Int32> = [EINVAL, EFAULT, ENOTCONN, EBUSY, ENOMEM, ENOSPC, EAGAIN, EMFILE, EPERM, EBADF, ENODEV, E2BIG]

/// The older generations' 14 request numbers, in the order
/// make-corpus.py indexes them (the test ABILayoutTests checks the table).
let legacyNumbers: [UInt32] = [
    0xC050_5300, 0xC04C_5300, 0xC010_5300, 0xC00C_5300, 0xC008_5301, 0xC008_5302, 0xC048_5303,
    0xC044_5303, 0xC088_5300, 0xC048_5301, 0xC048_5302, 0xC084_5300, 0xC044_5301, 0xC044_5302,
]
let knownNumbers: [UInt32] = SmafRequest.allCases.map(\.rawValue) + SmafExtensionRequest.allCases.map(\.rawValue)

let recordedLengths: [UInt64] = [4096, 16384, 1 << 20, 65536]
let guardSize = 64
let guardByte: UInt8 = 0xA5

func violation(_ message: String, file: StaticString = #file, line: UInt = #line) -> Never {
    fatalError("smaf-fuzz invariant violated: \(message)", file: file, line: line)
}

func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition { violation(message(), file: file, line: line) }
}

func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: true) }

func errnoName(_ e: Int32) -> String { SmafErrno(e).description }

/// Reads the fuzz input front to back; past the end every byte is 0.
struct FuzzReader {
    let data: UnsafeRawBufferPointer
    var pos = 0
    var atEnd: Bool { pos >= data.count }
    mutating func u8() -> UInt8 {
        defer { pos += 1 }
        return pos < data.count ? data[pos] : 0
    }
    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    /// Copies `count` bytes to `dest`, zero-filling what the input lacks.
    mutating func copy(_ count: Int, to dest: UnsafeMutableRawPointer) {
        let available = max(0, min(count, data.count - pos))
        if available > 0 { dest.copyMemory(from: data.baseAddress! + pos, byteCount: available) }
        if count > available { (dest + available).initializeMemory(as: UInt8.self, repeating: 0, count: count - available) }
        pos += count
    }
}

/// What the reference model says a request must do.
enum Expectation: CustomStringConvertible {
    case success(Int)
    case refused(Int32)
    /// Refused, but not for a malformed request (ENOTCONN today; a limit's
    /// errno would also do).
    case refusedNotEINVAL

    var description: String {
        switch self {
        case .success(let n): return "success(\(n))"
        case .refused(let e): return "refused(\(errnoName(e)))"
        case .refusedNotEINVAL: return "refused, not EINVAL"
        }
    }
}

extension UnsafeRawBufferPointer {
    func u32(_ offset: Int) -> UInt32 { loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    func u64(_ offset: Int) -> UInt64 { loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
    func i32(_ offset: Int) -> Int32 { loadUnaligned(fromByteOffset: offset, as: Int32.self) }
}

/// One fuzz input: a fresh device with four recorded buffers, then the
/// operations, each checked against the model.
final class Run {
    let moduleKind: Int
    let scripted: ScriptedSecureModule?
    let module: (any SecureModule)?
    let names: [String]
    let pageSize: UInt64
    let env: FuzzEnvironment
    let table = BufferTable()
    let device: SmafDevice
    /// The model: which recorded buffers are secure.
    var secure: [Bool]
    /// Which allocator made each recorded buffer.
    let recordedAllocators: [String]
    /// --abi-generations all: legacy numbers are translated, not refused.
    let legacyEnabled: Bool

    init(header h: [UInt8]) {
        moduleKind = Int(h[0] & 3)
        switch moduleKind {
        case 0: module = nil; scripted = nil
        case 1: module = TestSecureModule(); scripted = nil
        case 2: module = DenyCPUSecureModule(); scripted = nil
        default:
            let will: SmafErrno? = (h[0] >> 2) & 3 == 1 ? .EBUSY : (h[0] >> 2) & 3 == 2 ? .EINVAL : nil
            let s = ScriptedSecureModule(willSecureResult: will, contextFails: h[0] & 0x10 != 0, destroyRefuses: h[0] & 0x20 != 0,
                                         sealOnly: h[0] & 0x40 != 0)
            module = s; scripted = s
        }
        let registryIndex = Int(h[1] & 3)
        names = registryNames[registryIndex]
        recordedAllocators = (0..<4).map { $0 == 3 && registryIndex == 3 ? "smaf-fake-dmabuf" : "smaf-memfd" }
        pageSize = 4096 << (2 * UInt64((h[1] >> 2) & 3))
        env = FuzzEnvironment(seed: h[2])
        secure = (0..<4).map { h[3] & (1 << $0) != 0 }
        legacyEnabled = h[3] & 0x10 != 0
        for i in 0..<4 {
            table.insert(BufferRecord(length: recordedLengths[i], flags: SmafABI.validCreateFlags, allocator: recordedAllocators[i],
                                      ownerUID: UInt32(i), secure: secure[i] ? TestSecureModule().createContext() : nil),
                         for: recordedBuffers[i])
        }
        device = SmafDevice(registry: registries[registryIndex], secureModule: module, buffers: table,
                            environment: env, deviceFacts: FuzzDeviceFacts(), pageSize: pageSize,
                            generations: legacyEnabled ? .all : .default, logger: fuzzLogger)
        if verbose {
            print("  device: generations \(legacyEnabled ? "all" : "v10"), secure module \(module?.name ?? "none")\(scripted.map { " \($0)" } ?? ""), allocators \(names), page size \(pageSize), fd seed \(h[2]), secure buffers \(secure)")
        }
    }

    // MARK: the model

    func roundedLengthOK(_ length: UInt64) -> Bool {
        let (sum, overflow) = length.addingReportingOverflow(pageSize - 1)
        return !overflow && sum & ~(pageSize - 1) <= UInt64(Int64.max)
    }

    func expectation(_ request: UInt32, _ input: UnsafeRawBufferPointer, outCount: Int, caller: Caller) -> Expectation {
        let v10 = SmafRequest(rawValue: request)
        let ext = SmafExtensionRequest(rawValue: request)
        if let legacy = legacyLookup(request), legacyEnabled {
            return legacyExpectation(legacy, input, outCount: outCount, caller: caller)
        }
        guard v10 != nil || ext != nil else { return .refused(EINVAL) }
        if v10 == .setSecureFlag, module == nil { return .refused(EINVAL) }
        let size = v10?.structSize ?? ext!.structSize
        guard input.count == size, outCount >= size else { return .refused(EINVAL) }
        guard input.u64(0) == 0 else { return .refused(EINVAL) }  // version
        if let ext {
            switch ext {
            case .status: return .success(size)
            case .handoff, .connect: return .refused(EINVAL)  // no handoff socket here
            case .createFor, .devices:
                let (count, fds) = ext == .createFor
                    ? (SmafExtensionRequest.CreateForField.nDevices, SmafExtensionRequest.CreateForField.deviceFDs)
                    : (SmafExtensionRequest.DevicesField.nDevices, SmafExtensionRequest.DevicesField.deviceFDs)
                let n = input.u32(count)
                guard n <= 16 else { return .refused(E2BIG) }
                for i in 0..<Int(n) {
                    switch env.device(ofFD: input.i32(fds + 4 * i), inThread: caller.tid) {
                    case .notOpen: return .refused(EBADF)
                    case .notCharacterDevice: return .refused(ENODEV)
                    case .device: continue
                    }
                }
                if ext == .devices { return .success(size) }
                let at = SmafExtensionRequest.CreateForField.create
                return createExpectation(UnsafeRawBufferPointer(rebasing: input[at..<(at + 128)]))
            }
        }
        switch v10! {
        case .create:
            return createExpectation(input)
        case .getSecureFlag:
            let fd = input.i32(SmafABI.SecureFlagField.fd)
            guard fd != -1, env.fileIdentity(ofFD: fd, inThread: caller.tid) != nil else { return .refused(EINVAL) }
            return .success(size)
        case .setSecureFlag:
            let fd = input.i32(SmafABI.SecureFlagField.fd)
            guard let id = env.fileIdentity(ofFD: fd, inThread: caller.tid),
                  let i = recordedBuffers.firstIndex(of: id) else { return .refused(EINVAL) }
            let want = input.u32(SmafABI.SecureFlagField.secure) != 0
            if want == secure[i] { return .success(0) }  // idempotent both ways
            // Never secure what the policy cannot enforce (a registered
            // allocator whose buffers it cannot seal).
            if want, names.contains(recordedAllocators[i]), recordedAllocators[i] == "smaf-fake-dmabuf",
               moduleKind == 2 || (moduleKind == 3 && scripted!.sealOnly) {
                return .refused(EINVAL)
            }
            switch moduleKind {
            case 1: return .success(0)
            case 2: return want ? .refused(EINVAL) : .success(0)  // no /proc entry to seal; release always works
            default:
                let s = scripted!
                if want {
                    if let e = s.willSecureResult { return .refused(e.rawValue) }
                    return s.contextFails ? .refused(EINVAL) : .success(0)
                }
                return s.destroyRefuses ? .refused(EINVAL) : .success(0)
            }
        case .getInfo:
            let index = input.u32(SmafABI.InfoField.index)
            return index < names.count ? .success(size) : .refused(EINVAL)
        }
    }

    /// A legacy request is its v10 operation on the fields it carries (the
    /// translation's own rules are restated here, not called).
    func legacyExpectation(_ legacy: RequestDescriptor, _ input: UnsafeRawBufferPointer, outCount: Int, caller: Caller) -> Expectation {
        guard input.count == legacy.size, outCount >= legacy.size else { return .refused(EINVAL) }
        var v10 = [UInt8](repeating: 0, count: 128)
        func put<T: FixedWidthInteger>(_ at: Int, _ v: T) { v10.withUnsafeMutableBytes { $0.storeBytes(of: v, toByteOffset: at, as: T.self) } }
        func wide(_ f: WireField) -> Int64 { f.width == 8 ? input.loadUnaligned(fromByteOffset: f.offset, as: Int64.self) : Int64(input.i32(f.offset)) }
        func mapped(_ e: Expectation, _ size: Int) -> Expectation {
            if case .success = e { return .success(size) }
            return e
        }
        switch legacy.layout {
        case let .create(c):
            let length = c.length, flags = c.flags, name = c.name, version = c.version
            put(0, version.map { input.u64($0) } ?? 0)
            put(8, length.width == 8 ? input.u64(length.offset) : UInt64(input.u32(length.offset)))
            put(16, version == nil ? input.u32(flags) & SmafABI.validCreateFlags : input.u32(flags))
            if let name { for i in 0..<64 { v10[32 + i] = input[name + i] } }
            return v10.withUnsafeBytes { createExpectation($0) }
        case let .getSecureFlag(l), let .setSecureFlag(l):
            let fd = l.fd, secure = l.secure, version = l.version
            guard let n = Int32(exactly: wide(fd)) else { return .refused(EINVAL) }
            put(0, version.map { input.u64($0) } ?? 0)
            put(8, n)
            put(16, input.u32(secure))
            let get = { if case .getSecureFlag = legacy.layout { return true } else { return false } }()
            let number = get ? SmafRequest.getSecureFlag.rawValue : SmafRequest.setSecureFlag.rawValue
            return mapped(v10.prefix(64).withUnsafeBytes { expectation(number, $0, outCount: 64, caller: caller) }, get ? legacy.size : 0)
        case let .getInfo(l):
            put(8, input.u32(l.index))
            return mapped(v10.withUnsafeBytes { expectation(SmafRequest.getInfo.rawValue, $0, outCount: 128, caller: caller) }, legacy.size)
        case .selectByName:
            return .refused(EINVAL)  // no buffer here was made by a v2 CREATE
        case .createFor, .devices, .connect, .handoff, .status:
            preconditionFailure("\(legacy.name) is not an older generation's request")
        }
    }

    /// CREATE's checks on a 128-byte create struct (SMAF_IOC_CREATE's, or
    /// the one inside SMAF_IOC_EXT_CREATE_FOR).
    func createExpectation(_ input: UnsafeRawBufferPointer) -> Expectation {
        typealias F = SmafABI.CreateField
        guard input.u64(0) == 0 else { return .refused(EINVAL) }  // version
        let flags = input.u32(F.flags), length = input.u64(F.length)
        guard flags & ~SmafABI.validCreateFlags == 0, length > 0, roundedLengthOK(length) else { return .refused(EINVAL) }
        if input[F.name] != 0 {
            var n = 0
            while n < SmafABI.maxNameLength - 1 && input[F.name + n] != 0 { n += 1 }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: input[F.name..<(F.name + n)]), as: UTF8.self)
            let bytesOK = (0..<n).allSatisfy { input[F.name + $0] > 0x20 && input[F.name + $0] < 0x7F }
            guard bytesOK, names.contains(name) else { return .refused(EINVAL) }
        }
        return .refusedNotEINVAL  // every check passed; no channel to deliver the buffer
    }

    /// Checks a successful reply's bytes and updates the model.
    func checkReply(_ request: UInt32, _ input: UnsafeRawBufferPointer, _ out: UnsafeRawBufferPointer, caller: Caller) {
        /// Every byte outside `changed` must come back as sent.
        func echoed(except changed: [Range<Int>]) {
            for i in 0..<out.count where !changed.contains(where: { $0.contains(i) }) {
                check(out[i] == input[i], "\(hex(request)): byte \(i) came back as \(out[i]), was sent as \(input[i])")
            }
        }
        if let legacy = legacyLookup(request) {
            switch legacy.layout {
            case let .getSecureFlag(l):
                let fd = l.fd, secure = l.secure
                let n = fd.width == 8 ? Int32(input.loadUnaligned(fromByteOffset: fd.offset, as: Int64.self)) : input.i32(fd.offset)
                let id = env.fileIdentity(ofFD: n, inThread: caller.tid)
                let expected: UInt32 = recordedBuffers.firstIndex(where: { $0 == id }).map { self.secure[$0] ? 1 : 0 } ?? 0
                echoed(except: [secure..<(secure + 4)])
                check(out.u32(secure) == expected, "\(legacy.name) fd \(n) read \(out.u32(secure)), model says \(expected)")
            case let .setSecureFlag(l):
                let fd = l.fd, secure = l.secure
                let n = fd.width == 8 ? Int32(input.loadUnaligned(fromByteOffset: fd.offset, as: Int64.self)) : input.i32(fd.offset)
                let i = recordedBuffers.firstIndex(where: { $0 == env.fileIdentity(ofFD: n, inThread: caller.tid) })!
                self.secure[i] = input.u32(secure) != 0
            case let .getInfo(l):
                let index = l.index, count = l.count, name = l.name
                echoed(except: [count..<(count + 4), name..<(name + 64)])
                let i = Int(input.u32(index))
                check(out.u32(count) == UInt32(names.count), "\(legacy.name) count \(out.u32(count))")
                let bytes = Array(names[i].utf8)
                for j in 0..<64 { check(out[name + j] == (j < bytes.count ? bytes[j] : 0), "\(legacy.name) name byte \(j)") }
            case .create, .selectByName, .createFor, .devices, .connect, .handoff, .status:
                violation("\(legacy.name) succeeded without a handoff channel or a v2 buffer")
            }
            return
        }
        if let ext = SmafExtensionRequest(rawValue: request), ext == .devices {
            typealias F = SmafExtensionRequest.DevicesField
            echoed(except: [F.needs..<F.reserved2])
            let n = input.u32(F.nDevices)
            check(out.u32(F.needs) & 1 == (n > 0 ? 1 : 0), "EXT_DEVICES needs \(out.u32(F.needs)) for \(n) devices")
            check(out.u64(F.allocators) >> UInt64(names.count) == 0, "EXT_DEVICES allocators \(out.u64(F.allocators)) beyond \(names.count)")
            if n == 0 {
                check(out.u32(F.dmaMaskBits) == 64 && out.u32(F.needs) == 0, "EXT_DEVICES without devices constrains nothing")
            }
            if n > 0 && out.u32(F.needs) & 2 != 0 {
                check(out.u64(F.allocators) == 0, "EXT_DEVICES: contiguous memory needed, but no registered allocator is contiguous")
            }
            return
        }
        if let ext = SmafExtensionRequest(rawValue: request) {
            check(ext == .status, "\(ext.name) succeeded without a handoff socket")
            typealias F = SmafExtensionRequest.StatusField
            echoed(except: [F.liveBuffers..<F.reserved])
            check(out.u64(F.liveBuffers) == 4, "EXT_STATUS live_buffers \(out.u64(F.liveBuffers)), expected 4")
            check(out.u64(F.liveBytes) == recordedLengths.reduce(0, +), "EXT_STATUS live_bytes \(out.u64(F.liveBytes))")
            check(out.u32(F.channels) == 0, "EXT_STATUS channels \(out.u32(F.channels))")
            check(out.u32(F.secureBuffers) == UInt32(secure.filter { $0 }.count),
                  "EXT_STATUS secure_buffers \(out.u32(F.secureBuffers)), model \(secure)")
            check(out.u64(F.createdTotal) == 0, "EXT_STATUS created_total \(out.u64(F.createdTotal))")
            return
        }
        switch SmafRequest(rawValue: request)! {
        case .create:
            violation("CREATE succeeded without a handoff channel")
        case .getSecureFlag:
            let fd = input.i32(SmafABI.SecureFlagField.fd)
            let id = env.fileIdentity(ofFD: fd, inThread: caller.tid)
            let expected: UInt32 = recordedBuffers.firstIndex(where: { $0 == id }).map { secure[$0] ? 1 : 0 } ?? 0
            echoed(except: [16..<20])
            check(out.u32(SmafABI.SecureFlagField.secure) == expected,
                  "GET_SECURE_FLAG fd \(fd) (\(env.fdClass(fd, inThread: caller.tid).0.rawValue)) read \(out.u32(16)), model says \(expected)")
        case .setSecureFlag:
            let fd = input.i32(SmafABI.SecureFlagField.fd)
            let i = recordedBuffers.firstIndex(where: { $0 == env.fileIdentity(ofFD: fd, inThread: caller.tid) })!
            secure[i] = input.u32(SmafABI.SecureFlagField.secure) != 0
        case .getInfo:
            typealias F = SmafABI.InfoField
            echoed(except: [F.count..<(F.count + 4), F.name..<F.reserved3])
            let index = Int(input.u32(F.index))
            check(out.u32(F.count) == UInt32(names.count), "GET_INFO count \(out.u32(F.count)), \(names.count) registered")
            let name = Array(names[index].utf8)
            for j in 0..<SmafABI.maxNameLength {
                check(out[F.name + j] == (j < name.count ? name[j] : 0), "GET_INFO name byte \(j) for index \(index) (\(names[index]))")
            }
        }
    }

    /// The table must hold exactly the four buffers, secure as modelled.
    func checkTable() {
        check(table.count == 4, "buffer table holds \(table.count) records, expected 4")
        for i in 0..<4 {
            let s = table.record(for: recordedBuffers[i])?.secure != nil
            check(s == secure[i], "buffer \(i) is \(s ? "" : "not ")secure in the table, model says \(secure[i])")
        }
        check(table.totals.secure == secure.filter { $0 }.count, "table counts \(table.totals.secure) secure buffers")
    }

    // MARK: one operation

    func operation(_ r: inout FuzzReader) {
        let k = r.u8()
        var request: UInt32
        switch k & 0x0F {
        case 0...7: request = knownNumbers[Int(k & 0x0F)]
        case 8: request = legacyNumbers[Int(r.u8()) % legacyNumbers.count]
        case 9: request = (r.u32() & 0xFFFF_00FF) | UInt32(SmafABI.ioctlMagic) << 8
        case 10:
            let which = Int(r.u8()) % knownNumbers.count
            request = knownNumbers[which] ^ (1 << (UInt32(r.u8()) % 32))
        default: request = r.u32()
        }
        let structSize = SmafRequest(rawValue: request)?.structSize ?? SmafExtensionRequest(rawValue: request)?.structSize
            ?? legacyLookup(request)?.size ?? 128
        let dir = request >> 30, numberSize = Int((request >> 16) & 0x3FFF)
        var inCount: Int, outCount: Int
        var nilInput = false
        switch (k >> 5) & 3 {
        case 0: inCount = dir & 1 != 0 ? numberSize : 0; outCount = dir & 2 != 0 ? numberSize : 0
        case 1: inCount = structSize; outCount = structSize
        case 2: inCount = Int(r.u16() % 1024); outCount = Int(r.u16() % 1024)
        default: inCount = 0; outCount = 0; nilInput = true
        }
        if k & 0x80 != 0 { outCount = Int(r.u16() % 1024) }
        var tid = Int32(bitPattern: r.u32())
        if moduleKind == 2, tid > 0 { tid |= 0x4000_0000 }  // never a real process for deny-cpu's /proc re-open
        let caller = Caller(tid: tid, uid: r.u32(), gid: r.u32())

        // Exactly sized, so AddressSanitizer sees any read past the input.
        let inMemory = UnsafeMutableRawPointer.allocate(byteCount: inCount, alignment: 1)
        defer { inMemory.deallocate() }
        r.copy(inCount, to: inMemory)
        if k & 0x10 != 0, inCount >= 8 { inMemory.storeBytes(of: 0, as: UInt64.self) }
        let input = UnsafeRawBufferPointer(start: nilInput ? nil : inMemory, count: inCount)

        let outMemory = UnsafeMutableRawPointer.allocate(byteCount: outCount + guardSize, alignment: 16)
        defer { outMemory.deallocate() }
        outMemory.initializeMemory(as: UInt8.self, repeating: guardByte, count: outCount + guardSize)
        let output = UnsafeMutableRawBufferPointer(start: outMemory, count: outCount)

        let expected = expectation(request, input, outCount: outCount, caller: caller)
        let name = SmafRequest(rawValue: request)?.name ?? SmafExtensionRequest(rawValue: request)?.name
            ?? legacyLookup(request).map { "\($0.name) \(hex(request))" } ?? hex(request)
        if verbose {
            print("  \(name): in \(nilInput ? "nil" : String(inCount)) out \(outCount), tid \(caller.tid) uid \(caller.uid) gid \(caller.gid); model: \(expected)")
        }
        let result = device.ioctl(request: request, input: input, output: output, caller: caller)
        stats.operations += 1

        for i in outCount..<(outCount + guardSize) {
            check(outMemory.load(fromByteOffset: i, as: UInt8.self) == guardByte,
                  "\(name) wrote byte \(i - outCount) past its \(outCount)-byte output")
        }
        switch result {
        case .success(let n):
            stats.successes += 1
            stats.successesByRequest[name, default: 0] += 1
            if verbose { print("    -> success, \(n) bytes") }
            check(n >= 0 && n <= outCount, "\(name) returned \(n) bytes for a \(outCount)-byte output")
            let v10 = SmafRequest(rawValue: request)
            let ext = SmafExtensionRequest(rawValue: request)
            let legacy = legacyEnabled ? legacyLookup(request) : nil
            check(v10 != nil || ext != nil || legacy != nil, "unknown request \(hex(request)) succeeded")
            let isSet = v10 == .setSecureFlag || { if case .setSecureFlag? = legacy?.layout { return true } else { return false } }()
            let size = isSet ? 0 : (v10?.structSize ?? ext?.structSize ?? legacy!.size)
            check(n == size, "\(name) returned \(n) bytes, its struct is \(size) (0 for SET)")
            guard case .success(let m) = expected, m == n else { violation("\(name) succeeded with \(n) bytes; model: \(expected)") }
            checkReply(request, input, UnsafeRawBufferPointer(rebasing: output[0..<n]), caller: caller)
        case .failure(let e):
            stats.refusals[e.rawValue, default: 0] += 1
            if verbose { print("    -> \(e)") }
            check(allowedErrnos.contains(e.rawValue), "\(name) failed with undocumented errno \(e.rawValue) (\(e))")
            switch expected {
            case .success: violation("\(name) was refused with \(e); model: \(expected)")
            case .refused(let x): check(e.rawValue == x, "\(name) was refused with \(e); model: \(expected)")
            case .refusedNotEINVAL: check(e != .EINVAL, "\(name) was refused with EINVAL; model: \(expected)")
            }
            if SmafRequest(rawValue: request) != nil || legacyLookup(request) != nil {
                for i in 0..<outCount {
                    check(outMemory.load(fromByteOffset: i, as: UInt8.self) == guardByte,
                          "\(name) was refused with \(e) but wrote output byte \(i)")
                }
            }
        }
        checkTable()
    }
}

// MARK: - the codec

func checkCodec<T: SmafWireStruct>(_ type: T.Type, _ data: UnsafeRawBufferPointer) {
    let size = T.wireSize
    // A window of the input, exactly the struct's size, round-trips.
    var window = [UInt8](repeating: 0, count: size)
    for i in 0..<min(size, data.count) { window[i] = data[i] }
    guard let value = T(decoding: window) else { violation("\(T.self) did not decode \(size) bytes") }
    check(value.encoded == window, "\(T.self): decode then encode changed the bytes")
    check(T(decoding: value.encoded) == value, "\(T.self): encode then decode changed the value")
    // The whole input decodes only if it is exactly the struct's size.
    check((T(decoding: data) != nil) == (data.count == size), "\(T.self) decoded \(data.count) bytes")
    // encode(into:) writes exactly `size` bytes, and nothing into a short buffer.
    let short = data.count % size
    for capacity in [short, size, size + 7] {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity + guardSize, alignment: 8)
        defer { buf.deallocate() }
        buf.initializeMemory(as: UInt8.self, repeating: guardByte)
        let wrote = value.encode(into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<capacity]))
        check(wrote == (capacity >= size), "\(T.self).encode(into: \(capacity) bytes) returned \(wrote)")
        let written = wrote ? size : 0
        check(!wrote || Array(buf[0..<size]) == window, "\(T.self).encode(into:) wrote other bytes than .encoded")
        check(buf[written...].allSatisfy { $0 == guardByte }, "\(T.self).encode(into: \(capacity) bytes) wrote past \(written)")
    }
}

func checkNames(_ data: UnsafeRawBufferPointer) {
    guard let c = SmafCreateData(decoding: (0..<SmafCreateData.wireSize).map { $0 < data.count ? data[$0] : 0 }) else { return }
    let n = c.name.prefixBeforeNUL
    check(n <= SmafABI.maxNameLength && c.name.string.unicodeScalars.count == n, "FixedBytes.string and prefixBeforeNUL disagree")
    for (i, registry) in registries.enumerated() {
        if let a = registry.lookup(c.name) {
            check(a.name == c.name.string && registryNames[i].contains(a.name), "lookup('\(c.name.string)') found \(a.name)")
        }
    }
}

// MARK: - entry point

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    stats.inputs += 1
    checkCodec(SmafCreateData.self, data)
    checkCodec(SmafSecureFlag.self, data)
    checkCodec(SmafInfo.self, data)
    checkNames(data)
    var r = FuzzReader(data: data)
    let run = Run(header: [r.u8(), r.u8(), r.u8(), r.u8()])
    run.checkTable()
    var ops = 0
    while !r.atEnd && ops < 16 {
        run.operation(&r)
        ops += 1
    }
    // The operator answers must render whatever the counters hold.
    _ = run.device.status().rendered
    _ = run.device.info().rendered
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// The older generations' descriptor for a number (nil for v10 and the extensions).
func legacyLookup(_ number: UInt32) -> RequestDescriptor? {
    RequestDescriptor.lookup(number).flatMap { $0.isLegacy ? $0 : nil }
}
