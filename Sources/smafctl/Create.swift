// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import Foundation
import SmafClient

import CSmafSys

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a buffer, map it, write and verify a pattern, and report timings.")

    @OptionGroup var options: CommonOptions

    // Unconditional: "--size -5" is a negative size, not a missing value.
    @Option(parsing: .unconditional, help: "Buffer size: bytes or with K/M/G (binary units), e.g. 16M.")
    var size: String

    @Option(help: "Allocator name (default: let SMAF choose).")
    var name: String = ""

    @Flag(help: "Make the buffer secure before mapping it.")
    var secure = false

    @Option(name: .customLong("for"), help: ArgumentHelp(
        "A device that will use the buffer, e.g. /dev/video1 (repeatable): smafd picks an allocator every such device can use.",
        valueName: "path"))
    var devices: [String] = []

    func validate() throws { _ = try sizeOption(size) }

    func run() throws {
        let length = try sizeOption(size)
        let handle = try options.open()
        let client = try options.handoff(handle)
        var report: [String: Any] = ["device": handle.path, "requested_bytes": length]
        if !devices.isEmpty { report["for"] = devices }

        let deviceFDs = try openDevices(devices)
        defer { deviceFDs.forEach { close($0) } }
        let t0 = DispatchTime.now()
        let (fd, _) = try wrap {
            try client.create(length: length, flags: SmafABI.flagRDWR | SmafABI.flagCLOEXEC, name: name,
                              devices: deviceFDs, forDevices: !devices.isEmpty)
        }
        defer { close(fd) }
        report["create_us"] = microseconds(since: t0)
        var st = stat()
        fstat(fd, &st)
        let mapped = Int(st.st_size)
        report["buffer_bytes"] = mapped
        // Which allocator smafd chose is its decision: ask it about this fd.
        let described = try options.query(HandoffProtocol.queryBuffer, argument: UInt64(fd), on: client)
        report["allocator"] = described["allocator"] as? String ?? (name.isEmpty ? "?" : name)
        var expName = [CChar](repeating: 0, count: 64)
        if smaf_sys_dmabuf_exp_name(fd, &expName, expName.count) == 0 {
            report["dmabuf_exporter"] = String(cString: expName)
        }

        if secure {
            switch handle.setSecure(fd: fd, true) {
            case .success: report["secure"] = true
            case .failure(let e): throw Failure("\(e)")
            }
        }
        let t1 = DispatchTime.now()
        guard let p = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let e = errno
            report["mmap"] = "refused: \(String(cString: strerror(e)))"
            if options.json { return printJSON(report) }
            print("created \(humanBytes(UInt64(mapped))) buffer (fd \(fd)) in \(report["create_us"]!) us")
            print("writable mmap refused: \(String(cString: strerror(e)))\(secure ? " (the secure module denies CPU writes)" : "")")
            throw ExitCode(1)
        }
        defer { munmap(p, mapped) }
        report["mmap_us"] = microseconds(since: t1)
        let words = p.bindMemory(to: UInt64.self, capacity: mapped / 8)
        let t2 = DispatchTime.now()
        for i in 0..<(mapped / 8) { words[i] = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
        let writeUs = microseconds(since: t2)
        let t3 = DispatchTime.now()
        var bad = -1
        for i in 0..<(mapped / 8) where words[i] != UInt64(i) &* 0x9E37_79B9_7F4A_7C15 {
            bad = i
            break
        }
        let verifyUs = microseconds(since: t3)
        report["first_touch_write_us"] = writeUs
        report["verify_us"] = verifyUs
        report["write_mib_per_s"] = writeUs > 0 ? Double(mapped) / Double(writeUs) * 1e6 / 1_048_576 : 0
        report["verified"] = bad < 0
        if options.json {
            printJSON(report)
        } else {
            let kind = (report["dmabuf_exporter"] as? String).map { "dma-buf of \($0)" } ?? "not a dma-buf"
            print("created \(humanBytes(UInt64(mapped))) buffer (fd \(fd), allocator \(report["allocator"]!), \(kind)\(secure ? ", secure" : "")) in \(report["create_us"]!) us")
            print(String(format: "mapped in %d us; wrote the pattern in %d us (%.0f MiB/s, first touch); verified in %d us: %@",
                         report["mmap_us"] as! Int, writeUs, report["write_mib_per_s"] as! Double, verifyUs,
                         bad < 0 ? "ok" : "MISMATCH at byte \(bad * 8)"))
        }
        if bad >= 0 { throw ExitCode(1) }
    }

    private func microseconds(since t: DispatchTime) -> Int {
        Int((DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1000)
    }
}

/// O_PATH fds of device nodes: enough for smafd to identify each device,
/// without opening it (no driver open, no DRM master taken).
func openDevices(_ paths: [String]) throws -> [Int32] {
    var fds: [Int32] = []
    for path in paths {
        let fd = open(path, SMAF_O_PATH | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            fds.forEach { close($0) }
            throw Failure("cannot open \(path): \(String(cString: strerror(e)))")
        }
        fds.append(fd)
    }
    return fds
}
