/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "smaf_privilege.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAIL(name)             \
	do {                   \
		if (step)      \
			*step = name; \
		return -1;     \
	} while (0)

int smaf_sys_drop_privileges(uid_t uid, gid_t gid, uint64_t keep_mask, const char **step)
{
	/* Shrink the bounding set while still root: dropping from it needs
	 * CAP_SETPCAP, which the uid change below takes away. Nothing beyond
	 * keep_mask can ever come back (exec is refused by seccomp anyway). */
	for (int cap = 0; cap <= 63; cap++) {
		if (keep_mask & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			FAIL("prctl(PR_CAPBSET_DROP)");
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* Keep the permitted set across the uid change; trimmed below. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		FAIL("prctl(PR_SET_KEEPCAPS)");
	if (setgroups(0, NULL) != 0)
		FAIL("setgroups");
	if (setresgid(gid, gid, gid) != 0)
		FAIL("setresgid");
	if (setresuid(uid, uid, uid) != 0)
		FAIL("setresuid");
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
		FAIL("prctl(PR_SET_KEEPCAPS, 0)");
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { { 0 }, { 0 } };
	data[0].effective = data[0].permitted = (uint32_t)keep_mask;
	data[1].effective = data[1].permitted = (uint32_t)(keep_mask >> 32);
	if (syscall(SYS_capset, &hdr, data) != 0)
		FAIL("capset");
	/* A uid change makes the process non-dumpable, which would hand its
	 * /proc entries (and so /proc/self/fd, used to watch and re-open
	 * buffers) to root. Only smafd's own user could then trace it. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
		FAIL("prctl(PR_SET_DUMPABLE)");
	return 0;
}

/* System calls smafd never makes. */
static const int denied[] = {
	SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_ptrace, SYS_process_vm_readv,
	SYS_process_vm_writev, SYS_kexec_load, SYS_kexec_file_load, SYS_init_module, SYS_finit_module,
	SYS_delete_module, SYS_bpf, SYS_keyctl, SYS_add_key, SYS_request_key, SYS_reboot, SYS_swapon,
	SYS_swapoff, SYS_acct, SYS_quotactl, SYS_settimeofday, SYS_clock_settime, SYS_clock_adjtime,
	SYS_adjtimex, SYS_sethostname, SYS_setdomainname, SYS_userfaultfd, SYS_perf_event_open,
	SYS_unshare, SYS_setns, SYS_iopl, SYS_ioperm, SYS_open_by_handle_at, SYS_name_to_handle_at,
	SYS_execve, SYS_execveat, SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid,
	SYS_setresgid, SYS_setgroups, SYS_setfsuid, SYS_setfsgid, SYS_capset, SYS_personality,
	SYS_mknod, SYS_mknodat, SYS_fanotify_init, SYS_vhangup, SYS_lookup_dcookie,
};

int smaf_sys_install_seccomp(void)
{
#if defined(__x86_64__)
	enum { N = sizeof(denied) / sizeof(denied[0]) };
	struct sock_filter prog[5 + N + 2];
	int i = 0;
	prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/* Jump offsets count instructions after the current one; the EPERM
	 * return is the last instruction, the ALLOW just before it. */
	/* x32 system calls carry bit 30: refuse them all. */
	prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, N + 1, 0);
	for (int k = 0; k < N; k++)
		prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[k], (unsigned char)(N - k), 0);
	prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	struct sock_fprog fprog = { .len = (unsigned short)i, .filter = prog };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog);
#else
	errno = ENOSYS;
	return -1;
#endif
}
