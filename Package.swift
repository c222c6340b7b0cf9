// swift-tools-version:6.1
// SPDX-License-Identifier: MIT
import PackageDescription

let package = Package(
    name: "smaf-cuse",
    products: [
        .executable(name: "smafd", targets: ["smafd"]),
        .executable(name: "smafctl", targets: ["smafctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // The wire: every request's number, size and layout (v10, smafd's
        // extensions, the older generations), typed requests and replies with
        // one decode and one encode each, errno values, the handoff protocol
        // and the version. Shared by smafd, smafctl and the client.
        .target(name: "SmafABI", swiftSettings: [.swiftLanguageMode(.v5)]),
        // The v10 uapi header, shared by C clients, the C tests and Swift's layout tests.
        .target(name: "CSmafABI", path: "Sources/CSmafABI"),
        // libfuse3 as a system library; the umbrella header pins FUSE_USE_VERSION.
        .systemLibrary(
            name: "CFuse", path: "CFuse", pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]),
        // Syscalls Swift cannot reach directly (memfd, SCM_RIGHTS, inotify, the
        // dma-buf exporters' ioctls,
        // and libudev for the properties of devices that will use a buffer).
        .target(name: "CSmafSys", path: "Sources/CSmafSys", linkerSettings: [.linkedLibrary("udev")]),
        // The device logic: codec, registry, secure slot, dispatcher, handoff. No libfuse here.
        .target(
            name: "SmafCore",
            dependencies: ["SmafABI", "CSmafSys", .product(name: "Logging", package: "swift-log")],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        // Thin CUSE adapter: libfuse callbacks to SmafCore.
        .target(
            name: "SmafCUSE",
            dependencies: ["SmafCore", "CFuse", .product(name: "Logging", package: "swift-log")],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(
            name: "smafd",
            dependencies: [
                "SmafABI", "SmafCore", "SmafCUSE", "CSmafSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        // libsmaf's handoff client (lib/smaf_handoff.c, linked through
        // symlinks): the one implementation of the channel protocol, for
        // C programs and for smafctl alike.
        .target(name: "CSmafHandoff", dependencies: ["CSmafABI"], cSettings: [.define("_GNU_SOURCE")]),
        // Talking to a running smafd: typed ioctls and the handoff client.
        .target(
            name: "SmafClient", dependencies: ["SmafABI", "CSmafSys", "CSmafHandoff"],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        // smafctl check's v10 conformance check, over any node (smafctl's real
        // one, the tests' in-process smafd with injected deviations).
        .target(
            name: "SmafCheck", dependencies: ["SmafABI"],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(
            name: "smafctl",
            dependencies: [
                "SmafClient", "SmafCheck", "SmafABI", "CSmafSys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        // The in-process core benchmark: ns and allocations per request.
        .target(name: "CMallocCounter", path: "Sources/CMallocCounter"),
        .executableTarget(
            name: "smaf-core-bench",
            dependencies: ["SmafCore", "CSmafSys", "CMallocCounter", .product(name: "Logging", package: "swift-log")],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        // The libFuzzer target over the dispatcher and codec (scripts/fuzz builds
        // it with --sanitize=fuzzer); a plain build makes it a corpus replayer.
        .executableTarget(
            name: "smaf-fuzz",
            dependencies: ["SmafCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/fuzz/smaf-fuzz", swiftSettings: [.swiftLanguageMode(.v5)]),
        // Kernel-side FUSE structs (<linux/fuse.h>), for the test that plays the kernel.
        .target(name: "CFuseKernel", path: "Sources/CFuseKernel"),
        .target(
            name: "SmafTestSupport", dependencies: ["SmafCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/SmafTestSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
        // The Swift side of the wire against the C compiler's view of
        // smaf.h, smaf_ext.h and smaf_legacy.h.
        .testTarget(
            name: "SmafABITests", dependencies: ["SmafABI", "CSmafABI"],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(
            name: "SmafCoreTests",
            dependencies: ["SmafCore", "SmafTestSupport", "CSmafABI", "CSmafSys"],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(
            name: "SmafCheckTests",
            dependencies: ["SmafCheck", "SmafCore", "SmafTestSupport", "CSmafSys", .product(name: "Logging", package: "swift-log")],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(
            name: "SmafCUSETests",
            dependencies: ["SmafCore", "SmafCUSE", "SmafTestSupport", "CFuse", "CFuseKernel", "CSmafABI"],
            swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
