// SPDX-License-Identifier: MIT
/// Where a field sits in a legacy struct, and how many bytes it takes.
public struct LegacyField: Sendable, Equatable {
    public let offset: Int
    public let width: Int
    public init(_ offset: Int, _ width: Int) {
        self.offset = offset
        self.width = width
    }
}

/// What a legacy request does, in terms of the v10 operation it becomes,
/// and where that operation's fields are in the legacy struct. Everything
/// else in the struct is echoed back unchanged, like reserved fields on v10.
public enum LegacyOperation: Sendable, Equatable {
    /// CREATE. `version`: the struct has v8's version field (S64), so v8's
    /// checks apply (version 0, flags validated); pre-v8 structs have none
    /// and their flags are not validated (spec §3.20).
    case create(length: LegacyField, flags: Int, name: Int?, fd: LegacyField, version: Int?)
    case getSecureFlag(fd: LegacyField, secure: Int, version: Int?)
    case setSecureFlag(fd: LegacyField, secure: Int, version: Int?)
    case getInfo(index: Int, count: Int, name: Int)
    /// v2's SMAF_IOC_SELECT_BY_NAME: binds an allocator to a v2 buffer.
    case selectByName(fd: Int, name: Int)

    /// The operation without its layout, for picking requests by what they do.
    public enum Kind: Sendable { case create, getSecureFlag, setSecureFlag, getInfo, selectByName }

    public var kind: Kind {
        switch self {
        case .create: return .create
        case .getSecureFlag: return .getSecureFlag
        case .setSecureFlag: return .setSecureFlag
        case .getInfo: return .getInfo
        case .selectByName: return .selectByName
        }
    }
}

/// One request number of an older generation (spec §2.2), with the
/// generations that have it. The generations' own files declare them.
public struct LegacyRequest: Sendable {
    public let number: UInt32
    public let generations: AbiGenerations
    /// "v3-v7 CREATE"
    public let name: String
    /// "80-byte struct, LP64"
    public let layout: String
    public let size: Int
    public let operation: LegacyOperation

    init(_ nr: UInt8, size: Int, _ generations: AbiGenerations, _ name: String, _ layout: String, _ operation: LegacyOperation) {
        self.number = SmafABI.iowr(nr: nr, size: size)
        self.size = size
        self.generations = generations
        self.name = name
        self.layout = layout
        self.operation = operation
    }

    public var description: String { "\(name) (\(layout))" }

    /// Whether the request creates a buffer (the client must swap a token for an fd).
    public var creates: Bool { operation.kind == .create }

    /// Every legacy request, oldest generation first.
    public static let all: [LegacyRequest] = v2Requests + v3Requests + v7Requests + s64Requests

    private static let byNumber: [UInt32: LegacyRequest] = Dictionary(all.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lookup(_ number: UInt32) -> LegacyRequest? { byNumber[number] }

    /// The generation names that would accept this request, for messages.
    public var generationNames: String { generations.names.joined(separator: " or ") }
}
