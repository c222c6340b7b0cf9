// SPDX-License-Identifier: MIT
import SmafABI
/// A second name for an existing allocator (e.g. `smaf-cma` for programs that
/// hard-code the original CMA allocator's name).
public struct AllocatorAlias: Allocator {
    public let name: String
    public let target: any Allocator
    public var ranking: Int32 { target.ranking }
    public var properties: AllocatorProperties {
        var p = target.properties
        p.backing = "alias of \(target.name): \(p.backing)"
        return p
    }
    public init(name: String, target: any Allocator) {
        self.name = name
        self.target = target
    }
    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD { try target.allocate(request) }
    public var usesPlainMemfd: Bool { target.usesPlainMemfd }
}

/// An allocator under a ranking set by the operator (`--rank NAME=N`).
public struct RerankedAllocator: Allocator {
    public let target: any Allocator
    public let ranking: Int32
    public var name: String { target.name }
    public var properties: AllocatorProperties { target.properties }
    public init(_ target: any Allocator, ranking: Int32) {
        self.target = target
        self.ranking = ranking
    }
    public func allocate(_ request: AllocationRequest) throws(AllocationFailure) -> OwnedFD { try target.allocate(request) }
    public var usesPlainMemfd: Bool { target.usesPlainMemfd }
}
