// SPDX-License-Identifier: MIT
/// A fixed-size byte field of a uapi struct (`__u8 name[64]`, reserved tails),
/// stored inline so decoding a request never touches the heap. Inlinable:
/// unspecialized, every byte went through the generic value witnesses,
/// which made a GET_INFO cost several times its decoding.
public struct FixedBytes<let count: Int>: Sendable, Equatable {
    public var bytes: InlineArray<count, UInt8>

    @inlinable
    public init() { bytes = InlineArray(repeating: 0) }

    @inlinable
    public init(_ source: some Sequence<UInt8>) {
        self.init()
        var i = 0
        for b in source where i < count {
            bytes[i] = b
            i += 1
        }
    }

    /// A NUL-padded C string; bytes past `count` are dropped (callers that
    /// need a terminator force the last byte themselves, as the kernel does).
    @inlinable
    public init(cString: String) { self.init(cString.utf8) }

    @inlinable
    public subscript(i: Int) -> UInt8 {
        get { bytes[i] }
        set { bytes[i] = newValue }
    }

    /// Bytes up to the first NUL (all of them if there is none).
    @inlinable
    public var prefixBeforeNUL: Int {
        for i in 0..<count where bytes[i] == 0 { return i }
        return count
    }

    /// The bytes before the first NUL, decoded as UTF-8 for logs and tests.
    @inlinable
    public var string: String {
        var s = ""
        for i in 0..<prefixBeforeNUL { s.unicodeScalars.append(Unicode.Scalar(bytes[i])) }
        return s
    }

    @inlinable
    public static func == (a: Self, b: Self) -> Bool {
        for i in 0..<count where a.bytes[i] != b.bytes[i] { return false }
        return true
    }

    @inlinable
    public func store(into out: UnsafeMutableRawBufferPointer, at offset: Int) {
        for i in 0..<count { out[offset + i] = bytes[i] }
    }

    @inlinable
    public static func load(from raw: UnsafeRawBufferPointer, at offset: Int) -> Self {
        var v = Self()
        for i in 0..<count { v.bytes[i] = raw[offset + i] }
        return v
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    public func field<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
        loadUnaligned(fromByteOffset: offset, as: T.self)
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    public func setField<T: FixedWidthInteger>(_ offset: Int, _ value: T) {
        storeBytes(of: value, toByteOffset: offset, as: T.self)
    }
}
