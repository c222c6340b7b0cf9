// SPDX-License-Identifier: MIT
import SmafABI
#if canImport(Glibc)
import Glibc
#endif

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Starts a plain pthread (no Foundation) with all signals blocked, so that
/// SIGINT/SIGTERM keep going to the thread libfuse waits in.
func startThread(_ body: @escaping () -> Void) -> pthread_t? {
    var all = sigset_t()
    var old = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_BLOCK, &all, &old)  // the new thread inherits this mask
    defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
    var thread = pthread_t()
    let ctx = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let r = pthread_create(&thread, nil, { ctx in
        Unmanaged<ThreadBody>.fromOpaque(ctx!).takeRetainedValue().run()
        return nil
    }, ctx)
    if r != 0 {
        Unmanaged<ThreadBody>.fromOpaque(ctx).release()
        return nil
    }
    return thread
}
