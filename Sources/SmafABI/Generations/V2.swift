// SPDX-License-Identifier: MIT
/// SMAF v2 (2015-07): CREATE had no allocator name and no version field;
/// `SMAF_IOC_SELECT_BY_NAME` bound an allocator to a buffer before its first
/// use. Its 8-byte secure-flag struct lived on unchanged until v7.
extension RequestDescriptor {
    static let v2Requests: [RequestDescriptor] = [
        // struct { size_t length; unsigned int flags; int fd; }
        RequestDescriptor(legacy: 0, size: 16, .v2, "v2 CREATE", "16-byte struct, LP64",
                      .create(CreateLayout(length: WireField(0, 8), flags: 8, name: nil, fd: WireField(12, 4), version: nil))),
        RequestDescriptor(legacy: 0, size: 12, .v2, "v2 CREATE", "12-byte struct, ILP32",
                      .create(CreateLayout(length: WireField(0, 4), flags: 4, name: nil, fd: WireField(8, 4), version: nil))),
        // struct { int fd; char name[64]; }
        RequestDescriptor(legacy: 3, size: 68, .v2, "v2 SELECT_BY_NAME", "68-byte struct",
                      .selectByName(fd: 0, name: 4)),
        // struct { int fd; int secure; }, every ABI
        RequestDescriptor(legacy: 1, size: 8, [.v2, .v3, .v7], "v2-v7 GET_SECURE_FLAG", "8-byte struct",
                      .getSecureFlag(SecureFlagLayout(fd: WireField(0, 4), secure: 4, version: nil))),
        RequestDescriptor(legacy: 2, size: 8, [.v2, .v3, .v7], "v2-v7 SET_SECURE_FLAG", "8-byte struct",
                      .setSecureFlag(SecureFlagLayout(fd: WireField(0, 4), secure: 4, version: nil))),
    ]
}
