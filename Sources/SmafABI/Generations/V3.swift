// SPDX-License-Identifier: MIT
/// SMAF v3-v6 (2015-07 to early 2016), and v7's CREATE: the allocator name
/// moved into CREATE; still no version field, and `size_t length` makes
/// the struct differ between LP64 and ILP32. (The secure-flag requests are
/// v2's, declared in V2.swift.)
extension RequestDescriptor {
    static let v3Requests: [RequestDescriptor] = [
        // struct { size_t length; unsigned int flags; char name[64]; int fd; }
        RequestDescriptor(legacy: 0, size: 80, [.v3, .v7], "v3-v7 CREATE", "80-byte struct, LP64",
                      .create(CreateLayout(length: WireField(0, 8), flags: 8, name: 12, fd: WireField(76, 4), version: nil))),
        RequestDescriptor(legacy: 0, size: 76, [.v3, .v7], "v3-v7 CREATE", "76-byte struct, ILP32",
                      .create(CreateLayout(length: WireField(0, 4), flags: 4, name: 8, fd: WireField(72, 4), version: nil))),
    ]
}
