// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif

// Reading what the kernel publishes in sysfs, procfs and /dev.

/// The whole text of a small file (sysfs, procfs), or nil.
func readSmallFile(_ path: String, limit: Int = 8192) -> String? {
    guard let fd = OwnedFD.open(path, O_RDONLY) else { return nil }
    var buf = [UInt8](repeating: 0, count: limit)
    let n = buf.withUnsafeMutableBytes { read(fd.raw, $0.baseAddress, $0.count) }
    return n >= 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
}

/// The first whitespace-separated word of `text` as a number.
func firstNumber<S: StringProtocol>(in text: S) -> UInt64? {
    text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { UInt64($0) }
}

/// Names in a directory, sorted, without "." and ".."; empty if unreadable.
func directoryEntries(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

func realPath(_ path: String) -> String {
    guard let p = realpath(path, nil) else { return "" }
    defer { free(p) }
    return String(cString: p)
}

/// The running kernel's release (uname -r).
func kernelRelease() -> String {
    var uts = utsname()
    uname(&uts)
    return withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// The DRM primary nodes (/dev/dri/cardN) whose platform device is named
/// `device` (vgem, vkms): found through sysfs, so no other DRM node (a real
/// display's) is ever opened to ask.
func drmCards(ofDevice device: String, sysDirectory: String, devDirectory: String) -> [String] {
    directoryEntries("\(sysDirectory)/class/drm")
        .filter { $0.hasPrefix("card") && !$0.contains("-") }
        .filter { lastPathComponent(realPath("\(sysDirectory)/class/drm/\($0)/device")) == device }
        .map { "\(devDirectory)/dri/\($0)" }
}

func lastPathComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? ""
}
