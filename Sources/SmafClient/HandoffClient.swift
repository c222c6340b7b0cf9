// SPDX-License-Identifier: MIT
import SmafABI
import CSmafHandoff

#if canImport(Glibc)
import Glibc
#endif

/// This process's handoff channel to the smafd serving a device: buffers
/// for CREATE and answers to queries. The protocol is spoken by libsmaf's
/// own C code (lib/smaf_handoff.c), so smafctl and C programs share one
/// implementation of it (docs/layout.md says why the C side keeps it).
public final class HandoffClient {
    public let device: SmafDeviceHandle
    /// How the channel was made, for messages.
    public let route: String

    /// Gets a channel to the smafd serving `device` (by SMAF_IOC_EXT_CONNECT,
    /// else by the socket SMAF_IOC_EXT_HANDOFF names) and waits for its
    /// welcome. EINVAL: the node offers neither (it is not smafd).
    public init(device: SmafDeviceHandle) throws(SmafClientError) {
        switch smaf__handoff_connect(device.fd) {
        case 0: break
        case 1: throw SmafClientError(EINVAL, "\(device.path) offers no handoff channel")
        default: throw SmafClientError(errno, "the handoff channel to the smafd serving \(device.path)")
        }
        self.device = device
        self.route = "smafd's handoff channel for \(device.path)"
    }

    /// CREATE with handoff: the buffer's fd (owned by the caller) and the
    /// struct as the ioctl returned it, with `fd` replaced by the real fd.
    /// With `devices` (fds of this process) or `forDevices`, it is
    /// SMAF_IOC_EXT_CREATE_FOR: smafd picks an allocator they can all use.
    public func create(length: UInt64, flags: UInt32, name: String = "", devices: [Int32] = [],
                       forDevices: Bool = false) throws(SmafClientError) -> (fd: Int32, data: SmafCreateData) {
        var data = SmafCreateData()
        data.length = length
        data.flags = flags
        data.name = FixedBytes(cString: name)
        if !devices.isEmpty || forDevices {
            // The create struct after the version, then the device count and fds.
            typealias F = SmafExtensionRequest.CreateForField
            var bytes = [UInt8](repeating: 0, count: SmafExtensionRequest.createFor.structSize)
            bytes.replaceSubrange(F.create..<(F.create + SmafCreateData.wireSize), with: data.encoded)
            bytes.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: UInt32(devices.count), toByteOffset: F.nDevices, as: UInt32.self)
                for (i, fd) in devices.prefix(SmafExtensionRequest.maxDevices).enumerated() {
                    raw.storeBytes(of: fd, toByteOffset: F.deviceFDs + 4 * i, as: Int32.self)
                }
            }
            try issue(SmafExtensionRequest.createFor.rawValue, &bytes, "SMAF_IOC_EXT_CREATE_FOR")
            data = SmafCreateData(decoding: Array(bytes[F.create..<(F.create + SmafCreateData.wireSize)]))!
        } else {
            var bytes = data.encoded
            try issue(SmafRequest.create.rawValue, &bytes, "SMAF_IOC_CREATE")
            data = SmafCreateData(decoding: bytes)!
        }
        return (data.fd, data)
    }

    private func issue(_ request: UInt32, _ bytes: inout [UInt8], _ what: String) throws(SmafClientError) {
        let r = bytes.withUnsafeMutableBytes { smaf__handoff_ioctl(device.fd, UInt(request), $0.baseAddress) }
        guard r == 0 else { throw SmafClientError(errno, what) }
    }

    /// A CREATE of any generation's layout `r`, as raw struct bytes: issues
    /// it, receives the buffer and puts its fd into `bytes` (and returns it).
    public func createRaw(_ r: RequestDescriptor, _ bytes: inout [UInt8]) -> Result<Int32, SmafClientError> {
        guard case .create(let c) = r.layout else { return .failure(SmafClientError(EINVAL, "\(r.description) creates nothing")) }
        var layout = smaf_handoff_layout(fd_offset: UInt16(c.fd.offset), fd_size: UInt16(c.fd.width),
                                         flags_offset: UInt16(c.flags), length_offset: UInt16(c.length.offset),
                                         length_size: UInt16(c.length.width))
        let e = bytes.withUnsafeMutableBytes { smaf__handoff_ioctl_layout(device.fd, UInt(r.number), $0.baseAddress, &layout) }
        guard e == 0 else { return .failure(SmafClientError(errno, "request 0x\(String(r.number, radix: 16))")) }
        return .success(Int32(truncatingIfNeeded: bytes.withUnsafeBytes { $0.signedField(c.fd) }))
    }

    /// An info, status or buffer answer (JSON text); `argument` goes in the
    /// message's length field (queryBuffer: an fd number of this process).
    public func query(_ kind: UInt32, argument: UInt64 = 0) throws(SmafClientError) -> String {
        var answer = [UInt8](repeating: 0, count: HandoffProtocol.queryMax)
        let n = answer.withUnsafeMutableBytes { smaf__handoff_query(device.fd, kind, argument, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw SmafClientError(errno, "query \(kind) on \(route)") }
        guard n > 0 else { throw SmafClientError(EPROTO, "query \(kind) answer") }
        return String(decoding: answer[0..<n], as: UTF8.self)
    }
}
