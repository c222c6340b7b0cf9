// SPDX-License-Identifier: MIT
import SmafABI
import CFuse
import Logging

#if canImport(Glibc)
import Glibc
#endif

// libfuse's log hook has no userdata pointer, so the logger it feeds is global.
nonisolated(unsafe) private var libfuseLogger: Logger?

/// Sends libfuse's own messages through swift-log instead of raw stderr, so
/// the daemon's output has one format and one level switch.
func routeLibfuseLog(to logger: Logger) {
    libfuseLogger = logger
    fuse_set_log_func { level, fmt, args in
        guard let logger = libfuseLogger, let fmt, let args else { return }
        var buf = [CChar](repeating: 0, count: 1024)
        _ = vsnprintf(&buf, buf.count, fmt, args)
        var message = String(cString: buf)
        while message.last == "\n" { message.removeLast() }
        let swiftLevel: Logger.Level
        switch level {
        case FUSE_LOG_EMERG, FUSE_LOG_ALERT, FUSE_LOG_CRIT: swiftLevel = .critical
        case FUSE_LOG_ERR: swiftLevel = .error
        case FUSE_LOG_WARNING: swiftLevel = .warning
        case FUSE_LOG_NOTICE: swiftLevel = .notice
        case FUSE_LOG_INFO: swiftLevel = .info
        default: swiftLevel = .debug
        }
        logger.log(level: swiftLevel, "libfuse: \(message)")
    }
}
