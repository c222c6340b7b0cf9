// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#endif

// CLOCK_MONOTONIC: ages and rests do not jump with the wall clock, and
// reading it is a vDSO call, not a system call.

/// Seconds on CLOCK_MONOTONIC.
func monotonicSeconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(max(ts.tv_sec, 0))
}

/// Milliseconds on CLOCK_MONOTONIC.
func monotonicMilliseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(max(ts.tv_sec, 0)) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}
