// SPDX-License-Identifier: MIT
/// SMAF v7 (2016-05): GET_INFO appeared, with plain ints and no version.
extension RequestDescriptor {
    static let v7Requests: [RequestDescriptor] = [
        // struct { int index; int count; char name[64]; }
        RequestDescriptor(legacy: 3, size: 72, .v7, "v7 GET_INFO", "72-byte struct",
                      .getInfo(InfoLayout(index: 0, count: 4, name: 8, version: nil))),
    ]
}
