// SPDX-License-Identifier: MIT
#if canImport(Glibc)
import Glibc
#endif

// CLOCK_MONOTONIC_COARSE: ages and cache lifetimes do not jump with the wall
// clock and need no better than a tick. The coarse clock is answered in the
// vDSO whatever the clock source; CLOCK_MONOTONIC is a real system call
// where the source is not vDSO-capable (the hpet of a qemu guest on 6.1),
// which cost CREATE several calls.

/// Seconds on CLOCK_MONOTONIC_COARSE.
func monotonicSeconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(max(ts.tv_sec, 0))
}

/// Milliseconds on CLOCK_MONOTONIC_COARSE.
func monotonicMilliseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(max(ts.tv_sec, 0)) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}
