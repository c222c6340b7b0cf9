// SPDX-License-Identifier: MIT
/// Decoding and encoding of the three v10 structs from and to raw bytes in
/// host byte order. Decoders refuse any buffer that is not
/// exactly the struct's size: the input length is never trusted.
public protocol SmafWireStruct: Sendable, Equatable {
    static var wireSize: Int { get }
    init()
    init(unchecked raw: UnsafeRawBufferPointer)
    func encodeUnchecked(into out: UnsafeMutableRawBufferPointer)
}

extension SmafWireStruct {
    /// nil unless `raw` is exactly `wireSize` bytes.
    public init?(decoding raw: UnsafeRawBufferPointer) {
        guard raw.count == Self.wireSize else { return nil }
        self.init(unchecked: raw)
    }

    public init?(decoding bytes: [UInt8]) {
        guard let v = bytes.withUnsafeBytes({ Self(decoding: $0) }) else { return nil }
        self = v
    }

    /// Writes exactly `wireSize` bytes; returns false (writing nothing) if
    /// `out` is too small.
    @discardableResult
    public func encode(into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard out.count >= Self.wireSize else { return false }
        encodeUnchecked(into: out)
        return true
    }

    public var encoded: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.wireSize) { buf, n in
            encodeUnchecked(into: UnsafeMutableRawBufferPointer(buf))
            n = Self.wireSize
        }
    }
}

/// `struct smaf_create_data` (128 bytes).
public struct SmafCreateData: SmafWireStruct {
    public static let wireSize = SmafABI.createSize
    public var version: UInt64 = 0
    public var length: UInt64 = 0
    public var flags: UInt32 = 0
    public var reserved1: UInt32 = 0
    public var fd: Int32 = 0
    public var reserved2: UInt32 = 0
    public var name = FixedBytes<64>()
    public var reserved3 = FixedBytes<32>()

    public init() {}

    public init(unchecked raw: UnsafeRawBufferPointer) {
        typealias F = SmafABI.CreateField
        version = raw.field(F.version, as: UInt64.self)
        length = raw.field(F.length, as: UInt64.self)
        flags = raw.field(F.flags, as: UInt32.self)
        reserved1 = raw.field(F.reserved1, as: UInt32.self)
        fd = raw.field(F.fd, as: Int32.self)
        reserved2 = raw.field(F.reserved2, as: UInt32.self)
        name = .load(from: raw, at: F.name)
        reserved3 = .load(from: raw, at: F.reserved3)
    }

    public func encodeUnchecked(into out: UnsafeMutableRawBufferPointer) {
        typealias F = SmafABI.CreateField
        out.setField(F.version, version)
        out.setField(F.length, length)
        out.setField(F.flags, flags)
        out.setField(F.reserved1, reserved1)
        out.setField(F.fd, fd)
        out.setField(F.reserved2, reserved2)
        name.store(into: out, at: F.name)
        reserved3.store(into: out, at: F.reserved3)
    }
}

/// `struct smaf_secure_flag` (64 bytes).
public struct SmafSecureFlag: SmafWireStruct {
    public static let wireSize = SmafABI.secureFlagSize
    public var version: UInt64 = 0
    public var fd: Int32 = 0
    public var reserved1: UInt32 = 0
    public var secure: UInt32 = 0
    public var reserved2 = FixedBytes<44>()

    public init() {}

    public init(unchecked raw: UnsafeRawBufferPointer) {
        typealias F = SmafABI.SecureFlagField
        version = raw.field(F.version, as: UInt64.self)
        fd = raw.field(F.fd, as: Int32.self)
        reserved1 = raw.field(F.reserved1, as: UInt32.self)
        secure = raw.field(F.secure, as: UInt32.self)
        reserved2 = .load(from: raw, at: F.reserved2)
    }

    public func encodeUnchecked(into out: UnsafeMutableRawBufferPointer) {
        typealias F = SmafABI.SecureFlagField
        out.setField(F.version, version)
        out.setField(F.fd, fd)
        out.setField(F.reserved1, reserved1)
        out.setField(F.secure, secure)
        reserved2.store(into: out, at: F.reserved2)
    }
}

/// `struct smaf_info` (128 bytes).
public struct SmafInfo: SmafWireStruct {
    public static let wireSize = SmafABI.infoSize
    public var version: UInt64 = 0
    public var index: UInt32 = 0
    public var reserved1: UInt32 = 0
    public var count: UInt32 = 0
    public var reserved2: UInt32 = 0
    public var name = FixedBytes<64>()
    public var reserved3 = FixedBytes<40>()

    public init() {}

    public init(unchecked raw: UnsafeRawBufferPointer) {
        typealias F = SmafABI.InfoField
        version = raw.field(F.version, as: UInt64.self)
        index = raw.field(F.index, as: UInt32.self)
        reserved1 = raw.field(F.reserved1, as: UInt32.self)
        count = raw.field(F.count, as: UInt32.self)
        reserved2 = raw.field(F.reserved2, as: UInt32.self)
        name = .load(from: raw, at: F.name)
        reserved3 = .load(from: raw, at: F.reserved3)
    }

    public func encodeUnchecked(into out: UnsafeMutableRawBufferPointer) {
        typealias F = SmafABI.InfoField
        out.setField(F.version, version)
        out.setField(F.index, index)
        out.setField(F.reserved1, reserved1)
        out.setField(F.count, count)
        out.setField(F.reserved2, reserved2)
        name.store(into: out, at: F.name)
        reserved3.store(into: out, at: F.reserved3)
    }
}
