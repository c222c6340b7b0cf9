// SPDX-License-Identifier: MIT
import SmafABI
import ArgumentParser
import Foundation
import SmafClient


@main
struct Smafctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smafctl",
        abstract: "Inspect and check a SMAF device served by smafd (or any /dev/smaf-like node).",
        version: SmafVersion.string,
        subcommands: [Info.self, Status.self, Buffers.self, Create.self, Devices.self, Check.self])
}

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "The device node; the default is $SMAF_DEVICE if set.")
    var device: String = SmafDeviceHandle.defaultPath

    @Flag(help: "Machine-readable JSON instead of tables.")
    var json = false

    func open() throws -> SmafDeviceHandle {
        do { return try SmafDeviceHandle(path: device) } catch {
            throw Failure("\(error)\(error.errno == ENOENT ? " (is smafd running? see 'systemctl status smafd')" : error.errno == EACCES ? " (ask to be added to the device's group, e.g. 'usermod -aG smaf $USER')" : "")")
        }
    }

    func handoff(_ handle: SmafDeviceHandle) throws -> HandoffClient {
        do { return try HandoffClient(device: handle) } catch {
            throw Failure("\(error)\(error.errno == EINVAL ? " (\(device) is not served by smafd)" : "")")
        }
    }

    /// Asks the device's smafd a query (HandoffProtocol.queryInfo/queryStatus)
    /// and parses its JSON answer.
    func query(_ kind: UInt32) throws -> [String: Any] {
        try query(kind, on: try handoff(try open()))
    }

    func query(_ kind: UInt32, argument: UInt64 = 0, on client: HandoffClient) throws -> [String: Any] {
        let text = try wrap { try client.query(kind, argument: argument) }
        guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw Failure("smafd answered with something that is not a JSON object")
        }
        return obj
    }
}

/// --size as bytes, or a usage error (exit status 64, under the
/// subcommand's usage when called from validate()) saying what is accepted.
func sizeOption(_ text: String) throws -> UInt64 {
    switch ByteSize.parsePositive(text) {
    case .success(let v): return v
    case .failure(let why): throw ValidationError("--size \(why)")
    }
}

/// A user-facing failure: printed as one line, exit status 1.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func printJSON(_ value: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}
