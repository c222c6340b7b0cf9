// SPDX-License-Identifier: MIT
/// The local variant of v8 with a 64-bit fd field (libsmaf's register_fd
/// branch, 2016-10; never posted). v8's version field and checks stay; the
/// __s64 makes the structs 8 bytes longer on LP64 (tail padding) than on
/// i386, where a 64-bit integer is only 4-byte aligned. GET_INFO is v8's.
extension RequestDescriptor {
    static let s64Requests: [RequestDescriptor] = [
        // v8 layout, but __s64 fd @24; reserved2 @32, name @36, reserved3 @100
        RequestDescriptor(legacy: 0, size: 136, .s64, "S64 CREATE", "136-byte struct, LP64",
                      .create(CreateLayout(length: WireField(8, 8), flags: 16, name: 36, fd: WireField(24, 8), version: 0))),
        RequestDescriptor(legacy: 0, size: 132, .s64, "S64 CREATE", "132-byte struct, i386",
                      .create(CreateLayout(length: WireField(8, 8), flags: 16, name: 36, fd: WireField(24, 8), version: 0))),
        // version @0, __s64 fd @8, reserved1 @16, secure @20, reserved2[44] @24
        RequestDescriptor(legacy: 1, size: 72, .s64, "S64 GET_SECURE_FLAG", "72-byte struct, LP64",
                      .getSecureFlag(SecureFlagLayout(fd: WireField(8, 8), secure: 20, version: 0))),
        RequestDescriptor(legacy: 1, size: 68, .s64, "S64 GET_SECURE_FLAG", "68-byte struct, i386",
                      .getSecureFlag(SecureFlagLayout(fd: WireField(8, 8), secure: 20, version: 0))),
        RequestDescriptor(legacy: 2, size: 72, .s64, "S64 SET_SECURE_FLAG", "72-byte struct, LP64",
                      .setSecureFlag(SecureFlagLayout(fd: WireField(8, 8), secure: 20, version: 0))),
        RequestDescriptor(legacy: 2, size: 68, .s64, "S64 SET_SECURE_FLAG", "68-byte struct, i386",
                      .setSecureFlag(SecureFlagLayout(fd: WireField(8, 8), secure: 20, version: 0))),
    ]
}
