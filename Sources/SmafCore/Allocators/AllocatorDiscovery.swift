// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif
import CSmafSys

/// Finds the allocators that work on this host: every exporter the kernel
/// offers is opened (smafd does this before it drops privileges) and made to
/// allocate one probe buffer; only those whose probe succeeds are offered.
public struct AllocatorDiscovery {
    /// Only these names are probed (nil: all).
    public var only: Set<String>?
    /// DRM nodes whose dumb buffers to offer besides vgem's (--drm-device).
    public var drmDevices: [String]
    public var devDirectory = "/dev"
    public var sysDirectory = "/sys"
    public var procDirectory = "/proc"
    public let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    /// The kernel whose rule gives the kernel-mapping verdicts the
    /// self-test does not (KernelMappingRule).
    public var kernelRelease = SmafCore.kernelRelease()
    /// --kernel-mappings: the operator's verdicts, by allocator name; they
    /// beat the rule and the self-test.
    public var kernelMappingOverrides: [String: KernelMappings.Verdict] = [:]
    /// Makes the self-test's judge, nil when there is none here (no vkms);
    /// the closure itself nil: no self-test (--no-kernel-mapping-self-test).
    public var makeJudge: (() -> (any KernelMappingJudge)?)? = { VkmsJudge() }

    public init(only: Set<String>? = nil, drmDevices: [String] = []) {
        self.only = only
        self.drmDevices = drmDevices
    }

    /// What was found: the working allocators, and for each exporter that is
    /// present but does not work (or was not asked for), why.
    public struct Outcome {
        public var allocators: [any Allocator] = []
        public var skipped: [(name: String, reason: String)] = []
        /// How each dma-buf allocator's kernel-mapping verdict was reached
        /// when the self-test could not decide it, for the log.
        public var kernelMappingNotes: [String] = []
    }

    public func discover() -> Outcome {
        var out = Outcome()
        func offer(_ name: String, _ make: () -> Result<any Allocator, AllocationFailure>) {
            if let only, !only.contains(name) {
                out.skipped.append((name, "not in --allocators"))
                return
            }
            // Two nodes of one DRM driver would make two allocators of one name.
            if out.allocators.contains(where: { $0.name == name }) {
                out.skipped.append((name, "an allocator of that name is already offered"))
                return
            }
            switch make() {
            case .failure(let f): out.skipped.append((name, f.reason))
            case .success(let a):
                if let reason = probe(a) { out.skipped.append((name, reason)) } else { out.allocators.append(a) }
            }
        }

        for heap in directoryEntries("\(devDirectory)/dma_heap") {
            offer(DmaHeapAllocator.allocatorName(forHeap: heap)) {
                DmaHeapAllocator(heap: heap, directory: "\(devDirectory)/dma_heap").map { .success($0) }
                    ?? .failure(.syscall("open \(devDirectory)/dma_heap/\(heap)"))
            }
        }

        let udmabufPath = "\(devDirectory)/udmabuf"
        if access(udmabufPath, F_OK) == 0 {
            let node = ExporterNode(path: udmabufPath)
            let limit = UdmabufAllocator.sizeLimit(parameterFile: "\(sysDirectory)/module/udmabuf/parameters/size_limit_mb")
            let largeFolios = KernelMappingRule.shmemLargeFolios(sysDirectory: sysDirectory)
            func rule(hugetlb: Bool) -> KernelMappings {
                KernelMappingRule.udmabuf(hugetlb: hugetlb, release: kernelRelease, shmemLargeFolios: largeFolios)
            }
            offer("smaf-udmabuf") {
                node.map { .success(UdmabufAllocator(node: $0, memory: .shmem, sizeLimit: limit, kernelMappings: rule(hugetlb: false))) }
                    ?? .failure(.syscall("open \(udmabufPath)"))
            }
            offer("smaf-udmabuf-hugetlb") {
                guard let node else { return .failure(.syscall("open \(udmabufPath)")) }
                guard let huge = hugePageSize(), reservedHugePages() > 0 else {
                    return .failure(AllocationFailure(.ENOMEM, "no huge pages are reserved (vm.nr_hugepages is 0; boot with hugepages=N)"))
                }
                return .success(UdmabufAllocator(node: node, memory: .hugetlb(pageSize: huge), sizeLimit: limit,
                                                 kernelMappings: rule(hugetlb: true)))
            }
        }

        // vgem is found by its platform device, so no other DRM node (a real
        // display's) is ever opened unless the operator names it.
        var drmPaths = drmCards(ofDevice: "vgem", sysDirectory: sysDirectory, devDirectory: devDirectory)
        drmPaths += drmDevices.filter { !drmPaths.contains($0) }
        for path in drmPaths {
            let opened = DrmDumbAllocator.openNode(path)
            guard let node = opened.node else {
                out.skipped.append((path, opened.failure ?? "cannot open"))
                continue
            }
            let allocator = DrmDumbAllocator(node: node, driver: opened.driver, pageSize: pageSize)
            guard allocator.driver == "vgem" || drmDevices.contains(path) else { continue }
            offer(allocator.name) { .success(allocator) }
        }

        offer("smaf-memfd") { .success(MemfdAllocator()) }
        offer("smaf-secretmem") { .success(SecretmemAllocator()) }
        out.allocators = assessKernelMappings(out.allocators, notes: &out.kernelMappingNotes)
        return out
    }

    /// Each dma-buf allocator's kernel-mapping verdict: the operator's word
    /// if given, else what the self-test saw, else what the allocator
    /// declared (for udmabuf, the rule for this kernel).
    func assessKernelMappings(_ found: [any Allocator], notes: inout [String]) -> [any Allocator] {
        let needsJudge = found.contains { $0.properties.dmabuf && kernelMappingOverrides[$0.name] == nil }
        let judge = needsJudge ? makeJudge?() : nil
        if needsJudge && judge == nil {
            notes.append(makeJudge == nil ? "kernel-mapping self-test off (--no-kernel-mapping-self-test): verdicts come from the rule"
                                          : "no kernel-mapping self-test (no vkms card): verdicts come from the rule")
        }
        return found.map { a -> any Allocator in
            guard a.properties.dmabuf else { return a }
            if let v = kernelMappingOverrides[a.name] {
                return KernelMappingAssessed(a, KernelMappings(v, "--kernel-mappings \(a.name)=\(v.rawValue)"))
            }
            guard let judge else { return a }
            switch judge.check(a) {
            case .success(0):
                return KernelMappingAssessed(a, KernelMappings(.correct, "self-test: \(judge.name) read back every pixel right"))
            case .success(let n):
                return KernelMappingAssessed(a, KernelMappings(.wrong, "self-test: \(judge.name) read back \(n) of \(judge.probePixels) pixels wrong"))
            case .failure(let f):
                notes.append("\(a.name): the kernel-mapping self-test through \(judge.name) could not run (\(f.reason)); \(a.properties.kernelMappings.source)")
                return a
            }
        }
    }

    /// nil if the allocator made (and released) one page-sized buffer.
    func probe(_ allocator: any Allocator) -> String? {
        do throws(AllocationFailure) {
            _ = try allocator.allocate(AllocationRequest(length: pageSize, readWrite: true, recipient: getpid()))
            return nil  // the buffer closed as it went out of scope
        } catch {
            return "probe allocation failed: \(error.reason)"
        }
    }

    /// The default huge page size (/proc/meminfo "Hugepagesize:", in kB).
    func hugePageSize() -> UInt64? {
        guard let text = readSmallFile("\(procDirectory)/meminfo") else { return nil }
        let key = "Hugepagesize:"
        return text.split(separator: "\n").first { $0.hasPrefix(key) }
            .flatMap { firstNumber(in: $0.dropFirst(key.count)) }.map { $0 << 10 }
    }

    func reservedHugePages() -> UInt64 {
        readSmallFile("\(procDirectory)/sys/vm/nr_hugepages").flatMap { firstNumber(in: $0) } ?? 0
    }
}
