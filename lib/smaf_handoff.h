/* SPDX-License-Identifier: MIT */
/*
 * smaf_handoff.h - internal interface between libsmaf.so, libsmaf-preload.so
 * and the buffer handoff code (smaf_handoff.c) that both of them contain.
 * Not installed; not part of the libsmaf API.
 *
 * The protocol itself is specified in smaf_ext.h.
 *
 * Why these functions are exported (default visibility) and called through
 * the PLT even from inside the library that defines them:
 *
 *   smaf_handoff.c is linked into libsmaf.so and into libsmaf-preload.so, so
 *   a process that has both loaded holds two copies of the code and of its
 *   state (the per-device channel table, its locks, the fork handler). Two
 *   channel tables in one process would be wrong: smafd keeps one channel
 *   per process and a second connection replaces the first, so each copy
 *   would keep stealing the other's channel and CREATEs would time out.
 *
 *   ELF symbol interposition prevents that. All of the handoff state is
 *   static inside smaf_handoff.c and is reached only through the exported
 *   functions below. Every caller (libsmaf.c, the preload's ioctl()) calls
 *   them through the PLT, and the dynamic linker binds every such reference
 *   in the process to the first definition in the global lookup scope. With
 *   LD_PRELOAD that is libsmaf-preload.so's copy, so libsmaf.so ends up using
 *   the preload's code and state and its own copy is never entered. Without
 *   the preload, libsmaf.so's copy is the only one. Either way exactly one
 *   copy is live, and the fork handler is registered only by that copy
 *   (lazily, from inside it).
 *
 *   For this to hold: no caller may reach the state except through these
 *   functions; the libraries must not be linked with -Bsymbolic or
 *   -fno-semantic-interposition; and the callers must live in other
 *   translation units (so the compiler cannot inline or bind them locally).
 *   The Makefile checks the PLT relocations after linking.
 */
#ifndef SMAF_HANDOFF_H
#define SMAF_HANDOFF_H

#include <sys/types.h>

#include "smaf.h"
#include "smaf_ext.h"
#include "smaf_legacy.h"

#define SMAF_HANDOFF_EXPORT __attribute__((visibility("default")))

/*
 * Does request nr (the low 32 bits of an ioctl request) hand over a buffer
 * fd? SMAF_IOC_CREATE, smafd's SMAF_IOC_EXT_CREATE_FOR, and the legacy
 * numbers smafd translates, in this build's native layout: v2 CREATE,
 * v3-v7 CREATE, S64 CREATE and v2 SELECT_BY_NAME (smaf_legacy.h). Holds no
 * state, so inlining it into the callers is harmless; it must list exactly
 * the requests of buffer_requests[] in smaf_handoff.c.
 */
static inline int smaf__handoff_handles(unsigned int nr)
{
	switch (nr) {
	case SMAF_IOC_CREATE:
	case SMAF_IOC_EXT_CREATE_FOR:
	case SMAF_LEGACY_IOC_V2_CREATE:
	case SMAF_LEGACY_IOC_V3_CREATE:
	case SMAF_LEGACY_IOC_S64_CREATE:
	case SMAF_LEGACY_IOC_V2_SELECT_BY_NAME:
		return 1;
	default:
		return 0;
	}
}

/*
 * ioctl() on a SMAF device with buffer handoff. For a request that hands
 * over a buffer (smaf__handoff_handles()): makes sure this process has a
 * handoff channel to the smafd serving devfd, issues the ioctl and replaces
 * the token smafd returned in the struct's fd field with the received
 * buffer fd (-1 if it could not be received). For v2 SELECT_BY_NAME, a
 * buffer smafd had to remake takes over the number of the fd the program
 * named, and the fd field keeps that number. The channel is made by
 * SMAF_IOC_EXT_CONNECT (needs only the device node) or else by
 * SMAF_IOC_EXT_HANDOFF's socket path; on a node that knows neither (a
 * kernel driver, any other device) the request is issued as it is. Every
 * other request is passed straight to the kernel. Returns what ioctl(2)
 * would: 0 or -1 with errno; errno is left alone on success.
 */
SMAF_HANDOFF_EXPORT int smaf__handoff_ioctl(int devfd, unsigned long request, void *arg);

/*
 * The same for a caller that knows devfd is the character device rdev (it
 * fstat()ed it once when it opened it, as libsmaf does): saves smaf__handoff_
 * ioctl()'s fstat() per request. The caller must pass a devfd that is a
 * character device and its true st_rdev.
 */
SMAF_HANDOFF_EXPORT int smaf__handoff_ioctl_node(int devfd, dev_t rdev, unsigned long request, void *arg);

/*
 * Closes this process's handoff channel to the smafd serving devfd, if it
 * has one (libsmaf's smaf_close() when its open count reaches 0). Buffers
 * already handed over are not affected. The next CREATE reconnects.
 */
SMAF_HANDOFF_EXPORT void smaf__handoff_disconnect(int devfd);

/*
 * For tools that speak to smafd itself (smafctl), beside libsmaf:
 *
 * smaf__handoff_connect: makes sure this process has a channel to the smafd
 * serving devfd. 0: it has; 1: the node offers no handoff (a kernel driver,
 * not a character device); -1 with errno.
 *
 * smaf__handoff_ioctl_layout: smaf__handoff_ioctl() for a request that hands
 * over a buffer in a layout given here rather than found by its number (a
 * 64-bit tool issuing an ILP32 generation's CREATE).
 *
 * smaf__handoff_query: asks smafd a query of kind (SMAF_QUERY_*, with its
 * argument) on the channel and copies the answer (UTF-8 JSON) into answer.
 * Returns its length (0: smafd does not know the kind), or -1 with errno
 * (ENOTTY: the node offers no handoff; EMSGSIZE: capacity is too small;
 * ETIMEDOUT).
 */
struct smaf_handoff_layout {
	unsigned short fd_offset, fd_size;         /* fd: 4 (int) or 8 (__s64) */
	unsigned short flags_offset;               /* __u32 */
	unsigned short length_offset, length_size; /* 4 or 8 */
};

SMAF_HANDOFF_EXPORT int smaf__handoff_connect(int devfd);
SMAF_HANDOFF_EXPORT int smaf__handoff_ioctl_layout(int devfd, unsigned long request, void *arg,
						   const struct smaf_handoff_layout *layout);
SMAF_HANDOFF_EXPORT ssize_t smaf__handoff_query(int devfd, unsigned int kind, __u64 argument, void *answer,
						size_t capacity);

#endif
