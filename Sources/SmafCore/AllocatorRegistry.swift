// SPDX-License-Identifier: MIT
import SmafABI
import Synchronization

/// Why a registration was refused (names that could never be
/// selected, and duplicates that would shadow each other, are refused).
public enum AllocatorRegistrationError: Error, Equatable, CustomStringConvertible {
    case emptyName
    case nameTooLong(String, bytes: Int)
    case nameNotPrintableASCII(String)
    case duplicateName(String)

    public var description: String {
        switch self {
        case .emptyName: return "allocator name is empty"
        case .nameTooLong(let n, let b):
            return "allocator name '\(n)' is \(b) bytes; at most \(SmafABI.maxNameLength - 1) fit name[\(SmafABI.maxNameLength)]"
        case .nameNotPrintableASCII(let n): return "allocator name '\(n)' must be printable ASCII without spaces"
        case .duplicateName(let n): return "an allocator named '\(n)' is already registered"
        }
    }
}

/// The ranked allocator list: ranking descending, then name in
/// byte order. One lock covers it (the original walked it unlocked).
/// A secure module that can enforce its policy only on some allocators'
/// buffers puts those first (`preferring`), so unnamed buffers get them.
public final class AllocatorRegistry: Sendable {
    private struct State {
        var ranked: [any Allocator] = []
        var byName: [String: Int] = [:]  // name -> index in `ranked`
    }
    private let state = Mutex(State())
    private let preferring: @Sendable (any Allocator) -> Bool

    public init(preferring: @escaping @Sendable (any Allocator) -> Bool = { _ in true }) {
        self.preferring = preferring
    }

    /// A registry for a daemon with this secure module: the allocators whose
    /// buffers it can enforce its policy on come first.
    public convenience init(securing module: (any SecureModule)?) {
        self.init(preferring: { a in module?.canEnforce(on: a.properties) ?? true })
    }

    public func register(_ allocator: any Allocator) throws(AllocatorRegistrationError) {
        let name = allocator.name
        let bytes = name.utf8.count
        guard bytes > 0 else { throw .emptyName }
        guard bytes < SmafABI.maxNameLength else { throw .nameTooLong(name, bytes: bytes) }
        guard name.utf8.allSatisfy(Self.isNameByte) else { throw .nameNotPrintableASCII(name) }
        let duplicate: Bool = state.withLock { s in
            if s.byName[name] != nil { return true }
            s.ranked.append(allocator)
            // Byte-order name comparison equals strcmp for ASCII names.
            s.ranked.sort { a, b in
                let (pa, pb) = (preferring(a), preferring(b))
                if pa != pb { return pa }
                return a.ranking != b.ranking ? a.ranking > b.ranking : a.name < b.name
            }
            s.byName = Dictionary(uniqueKeysWithValues: s.ranked.enumerated().map { ($1.name, $0) })
            return false
        }
        if duplicate { throw .duplicateName(name) }
    }

    public var count: Int { state.withLock { $0.ranked.count } }

    public var allocators: [any Allocator] { state.withLock { $0.ranked } }

    /// The allocator at a GET_INFO index, with the list's count at that moment.
    public func entry(at index: Int) -> (allocator: (any Allocator)?, count: Int) {
        state.withLock { s in
            (index >= 0 && index < s.ranked.count ? s.ranked[index] : nil, s.ranked.count)
        }
    }

    /// Exact-name lookup over the bytes before the first NUL, as CREATE does
    /// after forcing name[63] to 0. Bytes that no registered name can contain
    /// are rejected before any string is built.
    public func lookup(_ name: FixedBytes<64>) -> (any Allocator)? {
        let n = name.prefixBeforeNUL
        guard n > 0, n < SmafABI.maxNameLength else { return nil }
        for i in 0..<n where !Self.isNameByte(name[i]) { return nil }
        let key = name.string
        return state.withLock { s in s.byName[key].map { s.ranked[$0] } }
    }

    /// The allocator for an unnamed buffer: with no devices the
    /// first in rank order, match() not consulted; otherwise the first whose
    /// buffers meet every device's constraints. Either way only allocators
    /// that can make this buffer at all (its size; read-only if SMAF_RDWR is
    /// not asked for) count. An allocator whose kernel mappings are wrong
    /// is passed over whenever one whose kernel mappings are correct would
    /// do: the buffer may yet reach a device that uses it through the
    /// kernel. nil if none (the driver crashed on an empty list).
    public func choose(for constraints: DeviceConstraints = DeviceConstraints(), length: UInt64 = 0,
                       readWrite: Bool = true) -> (any Allocator)? {
        state.withLock { s in
            var first: (any Allocator)?, firstNotWrong: (any Allocator)?
            for a in s.ranked where a.canServe(length: length, readWrite: readWrite)
                && a.unmetConstraint(constraints, length: length) == nil {
                let verdict = a.properties.kernelMappings.verdict
                if first == nil { first = a }
                if firstNotWrong == nil && verdict != .wrong { firstNotWrong = a }
                if verdict == .correct { return firstNotWrong }
            }
            return first
        }
    }

    public func lookup(_ name: String) -> (any Allocator)? {
        state.withLock { s in s.byName[name].map { s.ranked[$0] } }
    }

    /// `text` with every byte outside the name alphabet (printable ASCII
    /// without space) mapped to '_', cut to fit name[64] with its NUL: a name
    /// made from a kernel's name for something (a heap, a DRM driver).
    public static func validName(_ text: String) -> String {
        let bytes = text.utf8.prefix(SmafABI.maxNameLength - 1).map { isNameByte($0) ? $0 : UInt8(ascii: "_") }
        return String(decoding: bytes, as: UTF8.self)
    }

    @inline(__always)
    static func isNameByte(_ b: UInt8) -> Bool { b > 0x20 && b < 0x7F }
}
