// SPDX-License-Identifier: MIT
import SmafABI

/// SMAF_IOC_GET_INFO (and v7's): the allocator at an index, and how many there are.
extension SmafDevice {
    func getInfo(_ a: InfoArguments, _ rc: RequestContext) -> Result<(count: UInt32, name: FixedBytes<64>), SmafErrno> {
        guard a.version == 0 else { return .failure(refuse(.EINVAL, rc, "version \(a.version) is not 0")) }
        let (found, count) = registry.entry(at: Int(a.index))
        guard let allocator = found else {
            return .failure(refuse(.EINVAL, rc, "index \(a.index) is not below the allocator count \(count)"))
        }
        var name = FixedBytes<64>(cString: allocator.name)
        name[SmafABI.maxNameLength - 1] = 0
        return .success((UInt32(count), name))
    }
}
