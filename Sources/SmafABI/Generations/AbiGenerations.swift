// SPDX-License-Identifier: MIT
/// The generations of the SMAF ioctl ABI smafd can serve on one node
/// (docs/generations.md). v10 (v8-v10, the merged-for-review uapi) is always served; the
/// others are opt-in (`smafd --abi-generations`) because a v10 kernel
/// refuses their request numbers with EINVAL, and smafd is faithful to it
/// by default.
public struct AbiGenerations: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// v2 (2015-07): 16/12-byte CREATE without a name, SELECT_BY_NAME.
    public static let v2 = AbiGenerations(rawValue: 1 << 0)
    /// v3-v6: 80/76-byte CREATE with a name, 8-byte secure flag.
    public static let v3 = AbiGenerations(rawValue: 1 << 1)
    /// v7: v3's requests plus a 72-byte GET_INFO.
    public static let v7 = AbiGenerations(rawValue: 1 << 2)
    /// v8-v10: the current ABI.
    public static let v10 = AbiGenerations(rawValue: 1 << 3)
    /// The local variant with a 64-bit fd field (libsmaf's register_fd branch).
    public static let s64 = AbiGenerations(rawValue: 1 << 4)

    public static let all: AbiGenerations = [.v2, .v3, .v7, .v10, .s64]
    public static let `default`: AbiGenerations = [.v10]

    /// Each generation with its canonical name, oldest first.
    public static let named: [(String, AbiGenerations)] = [("v2", .v2), ("v3", .v3), ("v7", .v7), ("v10", .v10), ("s64", .s64)]
    /// Postings that share a generation's ABI.
    static let aliases: [String: AbiGenerations] = ["v4": .v3, "v5": .v3, "v6": .v3, "v8": .v10, "v9": .v10]

    /// The canonical names in this set, oldest first.
    public var names: [String] { Self.named.filter { contains($0.1) }.map(\.0) }
    public var description: String { names.joined(separator: ",") }

    /// Parses "v2,v7", "all" (any case, spaces ignored); v10 is always added.
    /// Throws a message naming the word it did not know.
    public init(parsing list: String) throws(AbiGenerationsParseError) {
        var set = AbiGenerations.v10
        for word in list.lowercased().split(separator: ",").map({ $0.trimmingCharacters(in: " ") }) where !word.isEmpty {
            if word == "all" {
                set.formUnion(.all)
            } else if let g = Self.named.first(where: { $0.0 == word })?.1 ?? Self.aliases[word] {
                set.formUnion(g)
            } else {
                throw AbiGenerationsParseError(word: word)
            }
        }
        self = set
    }
}

public struct AbiGenerationsParseError: Error, CustomStringConvertible {
    public let word: String
    public var description: String {
        "unknown ABI generation '\(word)': use v2, v3 (v3-v6), v7, v10 (v8-v10), s64 or all, separated by commas"
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        return String(drop(while: { chars.contains($0) }).reversed().drop(while: { chars.contains($0) }).reversed())
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
