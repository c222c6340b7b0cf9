// SPDX-License-Identifier: MIT
import SmafABI

/// Sizes on command lines ("16M", "4096", "1.5G", "2GiB"; binary units),
/// with the reason a text is refused, so each tool can say what to type.
public enum ByteSize {
    public static let accepted = "a number of bytes, or with K, M or G (also KiB, MiB, GiB; binary units; B for bytes), e.g. 4096, 16M, 1.5G"

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case notASize(String)
        case negative(String)
        case tooLarge(String)
        case zero(String)

        public var description: String {
            switch self {
            case .notASize(let t): return "'\(t)' is not a size; give \(ByteSize.accepted)"
            case .negative(let t): return "'\(t)' is negative; a size is at least 1 byte"
            // No file, so no buffer, can be larger than off_t allows.
            case .tooLarge(let t): return "'\(t)' is too large; the largest size is \(Int64.max) bytes (8 EiB - 1)"
            case .zero(let t): return "'\(t)' is zero; a size is at least 1 byte"
            }
        }
    }

    private static let scales: [(String, Double)] = [
        ("GIB", 1_073_741_824), ("MIB", 1_048_576), ("KIB", 1024),
        ("G", 1_073_741_824), ("M", 1_048_576), ("K", 1024), ("B", 1),
    ]

    /// Bytes, or why the text is not a size. Zero parses (callers that need
    /// a positive size use `parsePositive`).
    public static func parse(_ text: String) -> Result<UInt64, Refusal> {
        var t = Substring(text.uppercased())
        while t.first == " " { t.removeFirst() }
        while t.last == " " { t.removeLast() }
        var number = t
        var scale = 1.0
        for (suffix, s) in scales where t.hasSuffix(suffix) {
            number = t.dropLast(suffix.count)
            scale = s
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }),
              let v = Double(number), v.isFinite
        else { return .failure(.notASize(text)) }
        if number.hasPrefix("-") { return .failure(.negative(text)) }
        if scale == 1 && !number.contains(".") {
            guard let n = UInt64(number.drop(while: { $0 == "+" })) else { return .failure(.tooLarge(text)) }
            return n <= UInt64(Int64.max) ? .success(n) : .failure(.tooLarge(text))
        }
        // 9.2e18 < Int64.max as a Double, so the conversion cannot trap.
        guard v * scale < 9.2e18 else { return .failure(.tooLarge(text)) }
        return .success(UInt64(v * scale))
    }

    public static func parsePositive(_ text: String) -> Result<UInt64, Refusal> {
        parse(text).flatMap { $0 > 0 ? .success($0) : .failure(.zero(text)) }
    }
}
