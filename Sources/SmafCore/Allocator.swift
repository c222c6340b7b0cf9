/// An allocator plug-in (spec §3.15): a name the CREATE ioctl can ask for and
/// a ranking that orders the list GET_INFO enumerates (index 0 = preferred).
public protocol Allocator: Sendable {
    /// Printable ASCII, 1...63 bytes (the name must fit `name[64]` with its NUL).
    var name: String { get }
    /// Bigger is preferred.
    var ranking: Int32 { get }
    /// What really backs the memory, for operators (`memfd (shmem)`, ...).
    var backing: String { get }
}

/// `smaf-memfd`: buffers are sealed memfds whose pages shmem commits only
/// when first touched, which is SMAF's deferred allocation done by the kernel.
/// Registered from the start so GET_INFO always lists something real.
public struct MemfdAllocator: Allocator {
    public let name = "smaf-memfd"
    public let ranking: Int32 = 0
    public let backing = "memfd (shmem, sealed size, committed on first touch)"
    public init() {}
}

/// A second name for an existing allocator (e.g. `smaf-cma` for programs that
/// hard-code the original CMA allocator's name).
public struct AllocatorAlias: Allocator {
    public let name: String
    public let target: any Allocator
    public var ranking: Int32 { target.ranking }
    public var backing: String { "alias of \(target.name): \(target.backing)" }
    public init(name: String, target: any Allocator) {
        self.name = name
        self.target = target
    }
}
