// SPDX-License-Identifier: MIT
/// The SMAF v10 ioctl ABI: request numbers, struct sizes and
/// field offsets. Tests check every number here against the C compiler's view
/// of `smaf.h`, so this file and the header cannot drift apart silently.
public enum SmafABI {
    public static let maxNameLength = 64
    public static let ioctlMagic: UInt8 = 0x53  // 'S'

    /// CREATE flags: the host's O_RDWR and O_CLOEXEC (x86_64, arm, arm64 values).
    public static let flagRDWR: UInt32 = 0o2
    public static let flagCLOEXEC: UInt32 = 0o2000000
    public static let validCreateFlags: UInt32 = flagRDWR | flagCLOEXEC

    public static let createSize = 128
    public static let secureFlagSize = 64
    public static let infoSize = 128

    /// Field offsets, named as in the C header.
    public enum CreateField {
        public static let version = 0, length = 8, flags = 16, reserved1 = 20
        public static let fd = 24, reserved2 = 28, name = 32, reserved3 = 96
    }
    public enum SecureFlagField {
        public static let version = 0, fd = 8, reserved1 = 12, secure = 16, reserved2 = 20
    }
    public enum InfoField {
        public static let version = 0, index = 8, reserved1 = 12, count = 16
        public static let reserved2 = 20, name = 24, reserved3 = 88
    }

    /// asm-generic `_IOWR(type, nr, size)`: dir 3 in bits 30-31, size in 16-29.
    public static func iowr(nr: UInt8, size: Int) -> UInt32 {
        (3 << 30) | (UInt32(size) << 16) | (UInt32(ioctlMagic) << 8) | UInt32(nr)
    }
}

/// The four v10 requests. Anything else gets EINVAL like the v10 kernel's
/// default branch, except the older generations' numbers
/// when `smafd --abi-generations` enables them (Generations/).
public enum SmafRequest: UInt32, CaseIterable, Sendable {
    case create = 0xC080_5300
    case getSecureFlag = 0xC040_5301
    case setSecureFlag = 0xC040_5302
    case getInfo = 0xC080_5303

    /// The struct size each request carries in both directions.
    public var structSize: Int {
        switch self {
        case .create: return SmafABI.createSize
        case .getSecureFlag, .setSecureFlag: return SmafABI.secureFlagSize
        case .getInfo: return SmafABI.infoSize
        }
    }

    public var name: String {
        switch self {
        case .create: return "SMAF_IOC_CREATE"
        case .getSecureFlag: return "SMAF_IOC_GET_SECURE_FLAG"
        case .setSecureFlag: return "SMAF_IOC_SET_SECURE_FLAG"
        case .getInfo: return "SMAF_IOC_GET_INFO"
        }
    }
}

/// smafd's own requests (smaf_ext.h), far from the v10 numbers. They exist
/// because a CUSE ioctl cannot return an fd; plain v10 clients never use them.
public enum SmafExtensionRequest: UInt32, CaseIterable, Sendable {
    /// `_IOWR('S', 0x40, struct smaf_ext_handoff)`: where the handoff socket is.
    case handoff = 0xC080_5340
    /// `_IOWR('S', 0x41, struct smaf_ext_status)`: live buffers and channels.
    case status = 0xC080_5341
    /// `_IOWR('S', 0x42, struct smaf_ext_create_for)`: CREATE for named devices.
    case createFor = 0xC100_5342
    /// `_IOWR('S', 0x43, struct smaf_ext_devices)`: the devices' constraints.
    case devices = 0xC100_5343
    /// `_IOWR('S', 0x44, struct smaf_ext_connect)`: a channel from a socketpair end.
    case connect = 0xC080_5344

    public var structSize: Int {
        switch self {
        case .handoff, .status, .connect: return 128
        case .createFor, .devices: return 256
        }
    }

    public var name: String {
        switch self {
        case .handoff: return "SMAF_IOC_EXT_HANDOFF"
        case .status: return "SMAF_IOC_EXT_STATUS"
        case .createFor: return "SMAF_IOC_EXT_CREATE_FOR"
        case .devices: return "SMAF_IOC_EXT_DEVICES"
        case .connect: return "SMAF_IOC_EXT_CONNECT"
        }
    }

    /// The largest struct of any request smafd answers.
    public static let largestStructSize = 256

    /// The most devices one request names.
    public static let maxDevices = 16

    public enum CreateForField {
        public static let version = 0, create = 8, nDevices = 136, reserved1 = 140, deviceFDs = 144, reserved2 = 208
    }
    public enum DevicesField {
        public static let version = 0, length = 8, nDevices = 16, reserved1 = 20, deviceFDs = 24
        public static let needs = 88, dmaMaskBits = 92, align = 96, allocators = 104, sources = 112, reserved2 = 116
    }

    public enum HandoffField {
        public static let version = 0, protocolVersion = 8, reserved1 = 12, path = 16, reserved2 = 124
    }
    public enum ConnectField {
        public static let version = 0, sock = 8, protocolVersion = 12, reserved = 16
    }
    public enum StatusField {
        public static let version = 0, liveBuffers = 8, liveBytes = 16, channels = 24
        public static let secureBuffers = 28, createdTotal = 32, readyAhead = 40, reserved = 48
    }
}
