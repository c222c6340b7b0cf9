// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import CSmafSys
import Logging
import SmafCore

#if canImport(Glibc)
import Glibc
#endif

/// `--user` and the seccomp filter: what smafd gives up once set up.
enum PrivilegeDrop {
    struct Target {
        let name: String
        let uid: uid_t
        let gid: gid_t
    }

    /// The capabilities kept, and why: resolving a caller's fd number means
    /// following /proc/<tid>/fd/<n> of another user's process (a ptrace-mode
    /// read check) inside its 0500 fd directory.
    static let keptCapabilities: [(Int32, String)] = [
        (19, "CAP_SYS_PTRACE"), (2, "CAP_DAC_READ_SEARCH"),  // linux/capability.h numbers
    ]

    static func resolve(_ spec: String) throws -> Target {
        if let pw = getpwnam(spec) {
            return Target(name: spec, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
        }
        if let uid = UInt32(spec) {
            let pw = getpwuid(uid)
            return Target(name: pw.map { String(cString: $0.pointee.pw_name) } ?? spec, uid: uid,
                          gid: pw?.pointee.pw_gid ?? uid)
        }
        throw ValidationError("--user \(spec): no such user")
    }

    /// The socket directory must belong to the user smafd ends up as (so it
    /// can remove its socket at exit); create it and hand it over first.
    static func prepareDirectory(_ dir: String, for target: Target) throws {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            throw HandoffSetupError(description: "cannot create \(dir): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_mode & 0o022 == 0,
              st.st_uid == 0 || st.st_uid == target.uid
        else {
            throw HandoffSetupError(description: "\(dir) must be a directory owned by root or \(target.name), writable by nobody else")
        }
        guard chown(dir, target.uid, target.gid) == 0 else {
            throw HandoffSetupError(description: "cannot give \(dir) to \(target.name): \(String(cString: strerror(errno)))")
        }
    }

    static func apply(_ target: Target, logger: Logger) throws {
        let mask = keptCapabilities.reduce(UInt64(0)) { $0 | (1 << UInt64($1.0)) }
        var step: UnsafePointer<CChar>?
        guard smaf_sys_drop_privileges(target.uid, target.gid, mask, &step) == 0 else {
            let what = step.map { String(cString: $0) } ?? "?"
            logger.critical("cannot drop privileges to \(target.name): \(what): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        logger.info("running as \(target.name) (uid \(target.uid), gid \(target.gid)) with \(keptCapabilities.map(\.1).joined(separator: ", "))")
    }

    static func installSeccomp(logger: Logger) {
        if smaf_sys_install_seccomp() == 0 {
            logger.info("seccomp filter installed: mount, module, ptrace, exec, bpf, key, namespace and identity calls fail with EPERM")
        } else {
            logger.warning("no seccomp filter: \(String(cString: strerror(errno))) (the kernel may lack seccomp)")
        }
    }
}
