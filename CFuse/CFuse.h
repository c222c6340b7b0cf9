/* SPDX-License-Identifier: MIT */
/* libfuse3's CUSE low-level API for Swift. The API level is pinned here so
 * every Swift file sees the same libfuse declarations. */
#ifndef SMAF_CFUSE_H
#define SMAF_CFUSE_H

#define FUSE_USE_VERSION 31
#include <fuse3/cuse_lowlevel.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/types.h>
#include <unistd.h>

/* At API level 31 the multi-threaded loop is a macro; Swift cannot call macros. */
static inline int smaf_fuse_session_loop_mt(struct fuse_session *se)
{
	return fuse_session_loop_mt(se, 0);
}

/* Swift marks fork() unavailable; smafd forks once, before any thread exists,
 * so that the parent can exit only after /dev/smaf is there. */
static inline pid_t smaf_fork(void)
{
	return fork();
}

#endif
