// SPDX-License-Identifier: MIT
/// Where a field sits in a request's struct, and how many bytes it takes
/// (the fields whose width differs between generations and ABIs).
public struct WireField: Sendable, Equatable {
    public let offset: Int
    public let width: Int
    public init(_ offset: Int, _ width: Int) {
        self.offset = offset
        self.width = width
    }
}

/// Where CREATE's fields are in one generation's struct.
public struct CreateLayout: Sendable, Equatable {
    public let length: WireField
    public let flags: Int
    /// nil: v2's CREATE had no allocator name.
    public let name: Int?
    public let fd: WireField
    /// nil: before v8 there was no version field, and flags were not
    /// validated (bits outside SMAF_RDWR|SMAF_CLOEXEC were ignored).
    public let version: Int?
    /// v8+ echo the name with its last byte forced to NUL.
    public let terminatesName: Bool

    public init(length: WireField, flags: Int, name: Int?, fd: WireField, version: Int?, terminatesName: Bool = false) {
        self.length = length
        self.flags = flags
        self.name = name
        self.fd = fd
        self.version = version
        self.terminatesName = terminatesName
    }

    /// The same layout `by` bytes further into a bigger struct.
    func shifted(by delta: Int) -> CreateLayout {
        CreateLayout(length: WireField(length.offset + delta, length.width), flags: flags + delta,
                     name: name.map { $0 + delta }, fd: WireField(fd.offset + delta, fd.width),
                     version: version.map { $0 + delta }, terminatesName: terminatesName)
    }
}

public struct SecureFlagLayout: Sendable, Equatable {
    public let fd: WireField
    public let secure: Int
    public let version: Int?
    public init(fd: WireField, secure: Int, version: Int?) {
        self.fd = fd
        self.secure = secure
        self.version = version
    }
}

public struct InfoLayout: Sendable, Equatable {
    public let index: Int
    public let count: Int
    public let name: Int
    public let version: Int?
    public init(index: Int, count: Int, name: Int, version: Int?) {
        self.index = index
        self.count = count
        self.name = name
        self.version = version
    }
}

/// What a request does, with where its fields are in its struct. A reply
/// echoes the request (reserved fields and all), as the drivers did, with
/// the operation's results written into it; a refusal writes nothing.
public enum RequestLayout: Sendable, Equatable {
    case create(CreateLayout)
    case getSecureFlag(SecureFlagLayout)
    case setSecureFlag(SecureFlagLayout)
    case getInfo(InfoLayout)
    /// v2's SMAF_IOC_SELECT_BY_NAME: binds an allocator to a v2 buffer.
    case selectByName(fd: Int, name: Int)
    /// smaf_ext.h's requests, each with a version field at 0.
    case createFor, devices, connect, handoff, status

    /// The operation without its layout, for picking requests by what they do.
    public enum Kind: Sendable, CaseIterable {
        case create, getSecureFlag, setSecureFlag, getInfo, selectByName, createFor, devices, connect, handoff, status
    }

    public var kind: Kind {
        switch self {
        case .create: return .create
        case .getSecureFlag: return .getSecureFlag
        case .setSecureFlag: return .setSecureFlag
        case .getInfo: return .getInfo
        case .selectByName: return .selectByName
        case .createFor: return .createFor
        case .devices: return .devices
        case .connect: return .connect
        case .handoff: return .handoff
        case .status: return .status
        }
    }

    /// v10's CREATE; SMAF_IOC_EXT_CREATE_FOR carries it after its own version.
    static let v10Create = CreateLayout(length: WireField(SmafABI.CreateField.length, 8), flags: SmafABI.CreateField.flags,
                                        name: SmafABI.CreateField.name, fd: WireField(SmafABI.CreateField.fd, 4),
                                        version: SmafABI.CreateField.version, terminatesName: true)
    static let createForCreate = v10Create.shifted(by: SmafExtensionRequest.CreateForField.create)
}
