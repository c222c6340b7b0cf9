/* SPDX-License-Identifier: MIT */
/*
 * Least privilege for smafd: drop root for a plain user while keeping the
 * few capabilities it needs, and a seccomp filter that refuses system calls
 * it never makes. Both must run before any other thread exists: credentials
 * and (without TSYNC) seccomp filters are per thread, and threads created
 * afterwards inherit them.
 */
#ifndef SMAF_PRIVILEGE_H
#define SMAF_PRIVILEGE_H

#include <stdint.h>
#include <sys/types.h>


/*
 * Becomes uid/gid (no supplementary groups), keeping exactly the capabilities
 * in keep_mask (bit n = capability n) in the permitted and effective sets and
 * none in the inheritable, ambient or bounding sets beyond them. The process
 * stays dumpable so it can still read its own /proc/self/fd. Returns 0, or -1
 * with errno and *step naming the call that failed.
 */
int smaf_sys_drop_privileges(uid_t uid, gid_t gid, uint64_t keep_mask, const char **step);

/*
 * Installs smafd's seccomp filter (after PR_SET_NO_NEW_PRIVS): system calls
 * it never makes - mounting, module loading, ptrace, exec, kexec, BPF, key
 * management, namespaces, identity changes, clock setting and the like -
 * fail with EPERM; foreign architectures and x32 are killed. Returns 0, or -1
 * with errno (EINVAL: the kernel has no seccomp filters).
 */
int smaf_sys_install_seccomp(void);

#endif
