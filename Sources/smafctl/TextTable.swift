// SPDX-License-Identifier: MIT
import SmafABI
import Foundation

/// Aligned plain-text tables and human units for smafctl's output.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Columns aligned right (numbers).
    var rightAligned: Set<Int> = []

    init(_ header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render(indent: String = "  ") -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            let cells = header.indices.map { c -> String in
                let v = c < r.count ? r[c] : ""
                let pad = String(repeating: " ", count: widths[c] - v.count)
                return rightAligned.contains(c) ? pad + v : v + pad
            }
            var s = indent + cells.joined(separator: "  ")
            while s.last == " " { s.removeLast() }
            return s
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

/// 20480 -> "20 KiB", 1536 -> "1.5 KiB".
func humanBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    if u == 0 { return "\(n) B" }
    let s = v >= 100 || v == v.rounded() ? String(Int(v.rounded())) : String(format: "%.1f", v)
    return "\(s) \(units[u])"
}
