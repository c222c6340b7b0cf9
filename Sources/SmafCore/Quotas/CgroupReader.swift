// SPDX-License-Identifier: MIT
import SmafABI

/// The cgroup v2 path of a process ("/user.slice/user-1000.slice/session-2.scope"),
/// from the "0::" line of /proc/<pid>/cgroup. A process in a cgroup namespace
/// sees paths relative to its namespace, but smafd reads them from its own.
public enum CgroupReader {
    /// "/" when the process is gone or the kernel has no unified hierarchy
    /// (cgroup v1 only): such callers share the root cgroup's (unbounded) entry.
    public static func cgroup(ofProcess pid: Int32, procRoot: String = "/proc") -> String {
        guard pid > 0, let text = readSmallFile("\(procRoot)/\(pid)/cgroup") else { return "/" }
        return parse(text)
    }

    /// The unified hierarchy's path in a /proc/<pid>/cgroup text.
    public static func parse(_ text: String) -> String {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            let path = line.dropFirst(3)
            // " (deleted)" follows a cgroup removed while the process is in it.
            let trimmed = path.hasSuffix(" (deleted)") ? path.dropLast(10) : path
            return trimmed.isEmpty ? "/" : String(trimmed)
        }
        return "/"
    }
}
