// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif

/// Whether the kernel's own mapping of an allocator's buffers (dma_buf_vmap:
/// how vivid draws a frame, how vkms composes one, how software devices in
/// general read and write a buffer) holds the buffer's bytes. Device DMA
/// through the scatter list does not go this way, so a buffer can be right
/// for a DMA device and garbage for a software one. docs/allocators.md,
/// "Kernel mappings", has the table per kernel.
public struct KernelMappings: Sendable, Equatable {
    public enum Verdict: String, Sendable {
        case correct
        case wrong
        /// CPU-only memory: no importer takes it, so nothing maps it.
        case notApplicable = "n/a"
    }
    public var verdict: Verdict
    /// How the verdict was established, for `smafctl info` and the log.
    public var source: String

    public init(_ verdict: Verdict, _ source: String) {
        self.verdict = verdict
        self.source = source
    }

    public static let cpuOnly = KernelMappings(.notApplicable, "CPU-only memory: no kernel importer takes it")
    /// Exporters that hand the kernel's vmap one page per page (heaps, GEM
    /// shmem objects).
    public static let pageByPage = KernelMappings(.correct, "the exporter maps every page where it lies")

    public var isWrong: Bool { verdict == .wrong }

    /// `--kernel-mappings NAME=correct|wrong[,NAME=...]` (repeatable): the
    /// operator's word, which beats the rule and the self-test.
    public static func parseOverrides(_ specs: [String]) throws(KernelMappingOverrideError) -> [String: Verdict] {
        var out: [String: Verdict] = [:]
        for spec in specs {
            for item in spec.split(separator: ",") {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, let v = Verdict(rawValue: parts[1]), v != .notApplicable else {
                    throw KernelMappingOverrideError(item: String(item))
                }
                out[parts[0]] = v
            }
        }
        return out
    }
}

public struct KernelMappingOverrideError: Error, CustomStringConvertible {
    public let item: String
    public var description: String { "--kernel-mappings \(item): expected NAME=correct or NAME=wrong" }
}

/// The documented rule, used where no self-test could run.
///
/// udmabuf pins a memfd's pages and, for the kernel's own mapping, hands
/// vm_map_ram() one struct page per page. Since udmabuf was converted to
/// folios (Linux 6.11) it hands over each folio's first page instead of the
/// page at its offset in the folio, so every page of a large folio maps to
/// the folio's first page: a hugetlb memfd's 2 MiB pages always, a shmem
/// memfd's whenever shmem hands out large folios (transparent huge pages
/// for shmem). Measured on 6.12.117: 306,176 of 307,200 pixels wrong through
/// vkms, for both. Upstream maps folio_page(folio, offset) instead; no
/// release is assumed to carry that fix, because none was checked here:
/// the vkms self-test, or `--kernel-mappings`, says so for a fixed kernel.
public enum KernelMappingRule {
    /// "6.12.117+deb12-amd64" -> (6, 12).
    public static func version(of release: String) -> (major: Int, minor: Int)? {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    /// The verdict for udmabuf over hugetlb or shmem memory on a kernel.
    public static func udmabuf(hugetlb: Bool, release: String, shmemLargeFolios: Bool) -> KernelMappings {
        guard let v = version(of: release), v >= (6, 11) else {
            return KernelMappings(.correct, "rule: kernel \(release) predates udmabuf's folios (6.11): each page is mapped where it lies")
        }
        if hugetlb {
            return KernelMappings(.wrong, """
                rule: on kernel \(release) udmabuf maps every page of a huge page at its first page \
                (folios since 6.11; fixed upstream by mapping the page at its offset)
                """)
        }
        if shmemLargeFolios {
            return KernelMappings(.wrong, """
                rule: on kernel \(release) udmabuf maps every page of a large folio at its first page, \
                and shmem hands out large folios here (transparent_hugepage shmem_enabled)
                """)
        }
        return KernelMappings(.correct, "rule: shmem gives single-page folios here (transparent_hugepage shmem_enabled), which kernel \(release) maps right")
    }

    /// Whether shmem (and so a memfd) may get folios larger than a page:
    /// /sys/kernel/mm/transparent_hugepage/shmem_enabled is always,
    /// within_size or force, or a per-size hugepages-<n>kB/shmem_enabled
    /// is always or within_size (or inherit from a top level that is).
    /// "advise" needs madvise() on a mapping, which udmabuf's pinning never
    /// has. Read once, at start-up.
    public static func shmemLargeFolios(sysDirectory: String = "/sys") -> Bool {
        let base = "\(sysDirectory)/kernel/mm/transparent_hugepage"
        let top = selected(readSmallFile("\(base)/shmem_enabled"))
        let topLarge = ["always", "within_size", "force"].contains(top)
        if topLarge { return true }
        for dir in directoryEntries(base) where dir.hasPrefix("hugepages-") {
            let v = selected(readSmallFile("\(base)/\(dir)/shmem_enabled"))
            if v == "always" || v == "within_size" { return true }
        }
        return false
    }

    /// The [bracketed] word of a sysfs choice file.
    static func selected(_ text: String?) -> String? {
        guard let text, let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }
}

/// A way to see what the kernel's mapping of a buffer holds: smafd's
/// start-up self-test. nil result: the judge could not run (the reason).
public protocol KernelMappingJudge {
    var name: String { get }
    /// Pixels of the probe frame (the denominator of the wrong count).
    var probePixels: Int { get }
    /// Wrong pixels seen through the kernel's mapping of a buffer from
    /// `allocator` (0: correct), or the reason the check could not run.
    func check(_ allocator: any Allocator) -> Result<Int, AllocationFailure>
}

/// An allocator whose kernel-mapping verdict was established at start-up
/// (self-test, option), replacing the one it declared.
public struct KernelMappingAssessed: Allocator {
    public let target: any Allocator
    public let kernelMappings: KernelMappings
    public var name: String { target.name }
    public var ranking: Int32 { target.ranking }
    public var properties: AllocatorProperties {
        var p = target.properties
        p.kernelMappings = kernelMappings
        return p
    }
    public init(_ target: any Allocator, _ kernelMappings: KernelMappings) {
        self.target = target
        self.kernelMappings = kernelMappings
    }
    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD { try target.allocate(request) }
    public var usesPlainMemfd: Bool { target.usesPlainMemfd }
}
