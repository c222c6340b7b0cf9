// SPDX-License-Identifier: MIT
import SmafABI
// Without -DSMAF_LIBFUZZER (a plain `swift build`), smaf-fuzz is an ordinary
// program that replays inputs through the fuzz target, so the target and the
// corpus are built and usable without the fuzzer runtime:
//   smaf-fuzz [-v] FILE|DIR...   (-v: every operation, its model and result)
// A violated invariant traps, as under libFuzzer. With -DSMAF_LIBFUZZER this
// file is empty and libFuzzer's own main (linked by --sanitize=fuzzer) runs.
#if !SMAF_LIBFUZZER
import SmafCore

#if canImport(Glibc)
import Glibc
#endif

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return ferror(f) == 0 ? bytes : nil
}

/// The files a path names: itself, or a directory's regular files by name.
func inputFiles(_ path: String) -> [String]? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    guard st.st_mode & S_IFMT == S_IFDIR else { return [path] }
    guard let dir = opendir(path) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var est = stat()
        if !name.hasPrefix("."), stat(path + "/" + name, &est) == 0, est.st_mode & S_IFMT == S_IFREG { names.append(name) }
    }
    return names.sorted().map { path + "/" + $0 }
}

@main
struct Replay {
    static func main() {
        var paths = Array(CommandLine.arguments.dropFirst())
        if paths.first == "-v" {
            verbose = true
            paths.removeFirst()
        }
        if paths.isEmpty || paths.contains(where: { $0.hasPrefix("-") }) {
            print("usage: smaf-fuzz [-v] FILE|DIR...  (replays fuzz inputs; scripts/fuzz builds the libFuzzer binary)")
            exit(2)
        }
        for path in paths {
            guard let files = inputFiles(path) else {
                print("smaf-fuzz: cannot read \(path)")
                exit(1)
            }
            for file in files {
                guard let bytes = readFile(file) else {
                    print("smaf-fuzz: cannot read \(file)")
                    exit(1)
                }
                if verbose { print("\(file) (\(bytes.count) bytes)") }
                bytes.withUnsafeBytes { fuzzOne($0) }
            }
        }
        let refusals = stats.refusals.keys.sorted().map { "\(errnoName($0)) \(stats.refusals[$0]!)" }.joined(separator: ", ")
        let successes = stats.successesByRequest.keys.sorted().map { "\($0) \(stats.successesByRequest[$0]!)" }.joined(separator: ", ")
        print("smaf-fuzz: \(stats.inputs) inputs, \(stats.operations) operations, all invariants held")
        print("  succeeded: \(successes.isEmpty ? "none" : successes)")
        print("  refused: \(refusals.isEmpty ? "none" : refusals)")
    }
}
#endif
