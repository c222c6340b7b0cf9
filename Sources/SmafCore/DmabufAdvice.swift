// SPDX-License-Identifier: MIT
import SmafABI

/// What an operator should hear when smafd can offer no dma-buf: the README
/// promises buffers that devices import, and a CPU-only memfd is not one.
public enum DmabufAdvice {
    /// nil when some offered allocator exports dma-bufs; otherwise the
    /// warning, naming what would give dma-bufs on this kind of host.
    public static func cpuOnlyWarning(_ allocators: [any Allocator]) -> String? {
        guard !allocators.contains(where: { $0.properties.dmabuf }) else { return nil }
        return """
            no dma-buf exporter is usable, so every buffer is CPU-only (\(allocators.map(\.name).joined(separator: ", "))) \
            and no camera, display or GPU can import it; for dma-bufs load vgem ('modprobe vgem'; on Debian 12's \
            6.1 kernel the only exporter), or run a kernel with dma-buf heaps (/dev/dma_heap) or udmabuf \
            (/dev/udmabuf), such as Debian 12's 6.12 backports kernel
            """
    }
}
