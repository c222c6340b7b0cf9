// SPDX-License-Identifier: MIT
/// One request number smafd may answer: its size, name, the generations
/// that have it and the layout of its struct. Every request lives in one
/// table (`all`): the v10 requests, smafd's extensions (smaf_ext.h) and the
/// older generations' numbers (Generations/, smaf_legacy.h). A class: the
/// dispatcher looks one up per request, and a copy of the struct cost more
/// than the lookup.
public final class RequestDescriptor: Sendable {
    public let number: UInt32
    /// The struct's size: what `_IOWR` encodes, and what the kernel copies.
    public let size: Int
    /// "SMAF_IOC_CREATE", "v3-v7 CREATE"
    public let name: String
    /// "80-byte struct, LP64" for an older generation's layout; "" otherwise.
    public let layoutName: String
    /// The generations that have this number (v10 requests and the
    /// extensions: `.v10`).
    public let generations: AbiGenerations
    public let isExtension: Bool
    public let layout: RequestLayout
    /// This request's place in `all` (its counter's slot).
    public let slot: Int

    init(number: UInt32, size: Int, name: String, layoutName: String = "", generations: AbiGenerations,
         isExtension: Bool = false, layout: RequestLayout, slot: Int = 0) {
        self.number = number
        self.size = size
        self.name = name
        self.layoutName = layoutName
        self.generations = generations
        self.isExtension = isExtension
        self.layout = layout
        self.slot = slot
    }

    /// An older generation's request: `_IOWR('S', nr, size)`.
    convenience init(legacy nr: UInt8, size: Int, _ generations: AbiGenerations, _ name: String, _ layoutName: String,
         _ layout: RequestLayout) {
        self.init(number: SmafABI.iowr(nr: nr, size: size), size: size, name: name, layoutName: layoutName,
                  generations: generations, layout: layout)
    }

    private func at(slot: Int) -> RequestDescriptor {
        RequestDescriptor(number: number, size: size, name: name, layoutName: layoutName, generations: generations,
                          isExtension: isExtension, layout: layout, slot: slot)
    }

    /// `_IOC_DIR`: 3 (read and write) for every SMAF request.
    public var direction: UInt32 { number >> 30 }

    public var description: String { layoutName.isEmpty ? name : "\(name) (\(layoutName))" }

    /// An older generation's number, served only when enabled.
    public var isLegacy: Bool { !generations.contains(.v10) }

    /// Whether the request hands over a buffer (the client must swap a token for an fd).
    public var creates: Bool { layout.kind == .create || layout.kind == .createFor }

    /// The generation names that would accept this request, for messages.
    public var generationNames: String { generations.names.joined(separator: " or ") }

    // MARK: - The table

    private static let v10: [RequestDescriptor] = [
        RequestDescriptor(number: SmafRequest.create.rawValue, size: SmafABI.createSize, name: SmafRequest.create.name,
                          generations: .v10, layout: .create(RequestLayout.v10Create)),
        RequestDescriptor(number: SmafRequest.getSecureFlag.rawValue, size: SmafABI.secureFlagSize,
                          name: SmafRequest.getSecureFlag.name, generations: .v10, layout: .getSecureFlag(v10Secure)),
        RequestDescriptor(number: SmafRequest.setSecureFlag.rawValue, size: SmafABI.secureFlagSize,
                          name: SmafRequest.setSecureFlag.name, generations: .v10, layout: .setSecureFlag(v10Secure)),
        RequestDescriptor(number: SmafRequest.getInfo.rawValue, size: SmafABI.infoSize, name: SmafRequest.getInfo.name,
                          generations: .v10,
                          layout: .getInfo(InfoLayout(index: SmafABI.InfoField.index, count: SmafABI.InfoField.count,
                                                      name: SmafABI.InfoField.name, version: SmafABI.InfoField.version))),
    ]

    private static let v10Secure = SecureFlagLayout(fd: WireField(SmafABI.SecureFlagField.fd, 4),
                                                    secure: SmafABI.SecureFlagField.secure, version: SmafABI.SecureFlagField.version)

    private static let extensions: [RequestDescriptor] = SmafExtensionRequest.allCases.map { e in
        let layout: RequestLayout
        switch e {
        case .handoff: layout = .handoff
        case .status: layout = .status
        case .createFor: layout = .createFor
        case .devices: layout = .devices
        case .connect: layout = .connect
        }
        return RequestDescriptor(number: e.rawValue, size: e.structSize, name: e.name, generations: .v10,
                                 isExtension: true, layout: layout)
    }

    /// Every request, each with its slot: v10, the extensions, then the
    /// older generations, oldest first.
    public static let all: [RequestDescriptor] =
        (v10 + extensions + v2Requests + v3Requests + v7Requests + s64Requests).enumerated().map { $1.at(slot: $0) }

    /// Every older generation's request, oldest generation first (from
    /// `all`, so each carries its slot).
    public static let legacy: [RequestDescriptor] = all.filter(\.isLegacy)

    private static let byNumber: [UInt32: RequestDescriptor] =
        Dictionary(all.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })

    public static func lookup(_ number: UInt32) -> RequestDescriptor? { byNumber[number] }
}
