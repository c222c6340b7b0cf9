// SPDX-License-Identifier: MIT
import SmafABI
import SmafCore
#if canImport(Glibc)
import Glibc
#endif

/// The sd_notify protocol without libsystemd: one datagram of "KEY=VALUE"
/// lines to the unix socket named by $NOTIFY_SOCKET ('@' = abstract name).
/// Without the variable (not started by systemd, or not Type=notify) it
/// does nothing.
struct SystemdNotify {
    let path: String?

    init(environment: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }) {
        path = environment.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Returns false if there was a socket and the message did not reach it.
    @discardableResult
    func send(_ state: String) -> Bool {
        guard let path else { return true }
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        guard bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return false }
        let raw = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard raw >= 0 else { return false }
        let fd = OwnedFD(raw)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &addr) { ap in
            ap.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd.raw, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, len) }
            }
        }
        return sent == message.count
    }
}
