/* SPDX-License-Identifier: MIT */
/* The kernel side of the FUSE/CUSE wire protocol, for the test that plays
 * the kernel against a real libfuse session. */
#ifndef SMAF_CFUSE_KERNEL_H
#define SMAF_CFUSE_KERNEL_H
#include <linux/fuse.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* The calling thread's id, which is what FUSE puts in fuse_in_header.pid. */
static inline pid_t smaf_test_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}
#endif
