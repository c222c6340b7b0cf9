// SPDX-License-Identifier: MIT
import Synchronization

/// A closure set once and called from other threads, kept in a class.
/// Kept in a Mutex as a bare closure instead, every `withLock { $0 }` read
/// wrote it back wrapped in two more reabstraction thunks: a pool's wake-up
/// call grew a chain that made each CREATE slower than the one before (and
/// leaked its memory), which the long benchmark runs showed.
final class Callback<Argument, Answer>: Sendable {
    private let body: @Sendable (Argument) -> Answer
    init(_ body: @escaping @Sendable (Argument) -> Answer) { self.body = body }
    func callAsFunction(_ argument: Argument) -> Answer { body(argument) }
}

/// A Callback that may be set later (at most once matters; the last wins).
final class LateCallback<Argument, Answer>: Sendable {
    private let slot = Mutex<Callback<Argument, Answer>?>(nil)
    init() {}
    func set(_ body: @escaping @Sendable (Argument) -> Answer) { slot.withLock { $0 = Callback(body) } }
    /// nil if nothing was set yet.
    func callAsFunction(_ argument: Argument) -> Answer? { slot.withLock { $0 }?(argument) }
}
